"""The lab's control plane and hollow nodes, exercised through the real apiserver.

Named to run first in the session: after other tests' zone disruptions and node deletions, the
1.20 node-lifecycle controller was seen never to add the unreachable NoExecute taint to a node
that went silent (its rate-limited tainting queue keeps stale state), so the eviction this
module checks would not come. A clean controller shows the behaviour GKE has."""

from __future__ import annotations

import urllib.request

import pytest
from kubernetes import client

from gameday.lab.control_client import LabControl
from tests.conftest import LabHandle
from tests.helpers import deployment, eventually

SAMPLE = "gameday-lab/sample-app:1"
HTTP_PROBE = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 1}


def _ready(obj: client.V1Node | client.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in obj.status.conditions or [])


def test_nodes_look_like_gke_nodes(core: client.CoreV1Api) -> None:
    nodes = core.list_node(_request_timeout=10).items
    assert len(nodes) == 6 and all(_ready(n) for n in nodes)
    zones = sorted(n.metadata.labels["topology.kubernetes.io/zone"] for n in nodes)
    assert zones == ["europe-west1-b"] * 2 + ["europe-west1-c"] * 2 + ["europe-west1-d"] * 2
    for node in nodes:
        labels = node.metadata.labels
        assert labels["cloud.google.com/gke-spot"] == "true"
        assert labels["kubernetes.io/hostname"] == node.metadata.name
        _project, zone, name = node.spec.provider_id.removeprefix("gce://").split("/")
        assert (zone, name) == (labels["topology.kubernetes.io/zone"], node.metadata.name)
        ip = next(a.address for a in node.status.addresses if a.type == "InternalIP")
        assert ip.startswith("127.")
    leases = client.CoordinationV1Api(core.api_client).list_namespaced_lease(
        "kube-node-lease", _request_timeout=10).items
    assert {le.metadata.name for le in leases} >= {n.metadata.name for n in nodes}


def test_spread_deployment_becomes_ready_with_endpointslice(
        apps: client.AppsV1Api, core: client.CoreV1Api, api: client.ApiClient,
        namespace: str) -> None:
    apps.create_namespaced_deployment(namespace, deployment("spread", "nginx:1.25"))
    core.create_namespaced_service(namespace, {
        "metadata": {"name": "spread"},
        "spec": {"selector": {"app": "spread"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    eventually(lambda: apps.read_namespaced_deployment(
        "spread", namespace).status.ready_replicas == 6, 30, "6/6 ready replicas")
    pods = core.list_namespaced_pod(namespace).items
    nodes = {n.metadata.name: n.metadata.labels["topology.kubernetes.io/zone"]
             for n in core.list_node().items}
    per_zone: dict[str, int] = {}
    for pod in pods:
        per_zone[nodes[pod.spec.node_name]] = per_zone.get(nodes[pod.spec.node_name], 0) + 1
    assert sorted(per_zone.values()) == [2, 2, 2]
    objects = client.CustomObjectsApi(api)  # the 37.x client dropped discovery/v1beta1 (k8s 1.20)

    def ready_addresses() -> set[str]:
        slices = objects.list_namespaced_custom_object(
            "discovery.k8s.io", "v1beta1", namespace, "endpointslices",
            label_selector="kubernetes.io/service-name=spread")["items"]
        return {a for s in slices for e in s.get("endpoints") or []
                if e["conditions"].get("ready") for a in e["addresses"]}

    addresses = eventually(lambda: len(ready_addresses()) == 6 and ready_addresses(), 20,
                           "6 ready EndpointSlice addresses")
    assert addresses == {p.status.pod_ip for p in pods}
    assert all(a.startswith("127.") for a in addresses)


def test_pod_process_serves_http_on_its_pod_ip(apps: client.AppsV1Api, core: client.CoreV1Api,
                                               namespace: str) -> None:
    apps.create_namespaced_deployment(namespace, deployment(
        "real", SAMPLE, replicas=2, spread=False, probes={"readinessProbe": HTTP_PROBE}))
    eventually(lambda: apps.read_namespaced_deployment(
        "real", namespace).status.ready_replicas == 2, 30, "2 ready sample-app pods")
    for pod in core.list_namespaced_pod(namespace).items:
        with urllib.request.urlopen(f"http://{pod.status.pod_ip}:8080/", timeout=5) as resp:
            assert resp.status == 200
            assert pod.metadata.name in resp.read().decode()


def test_liveness_failure_restarts_the_container(apps: client.AppsV1Api,
                                                 core: client.CoreV1Api, namespace: str) -> None:
    liveness = {"httpGet": {"path": "/no-such-path", "port": 8080}, "periodSeconds": 1,
                "failureThreshold": 2, "initialDelaySeconds": 1}
    apps.create_namespaced_deployment(namespace, deployment(
        "flaky", SAMPLE, replicas=1, spread=False, probes={"livenessProbe": liveness},
        grace_s=1))

    def restarts() -> int:
        pods = core.list_namespaced_pod(namespace).items
        statuses = pods[0].status.container_statuses if pods else None
        return statuses[0].restart_count if statuses else 0

    eventually(lambda: restarts() >= 2, 30, "two liveness restarts")
    pod = core.list_namespaced_pod(namespace).items[0]
    assert pod.status.container_statuses[0].last_state.terminated is not None


@pytest.mark.parametrize("mode", ["abrupt"])
def test_power_off_is_noticed_by_the_real_node_controller(
        lab: LabHandle, apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str,
        mode: str) -> None:
    apps.create_namespaced_deployment(namespace, deployment("survivor", "nginx:1.25",
                                                            spread=False))
    eventually(lambda: apps.read_namespaced_deployment(
        "survivor", namespace).status.ready_replicas == 6, 30, "6/6 ready")
    victim = core.list_namespaced_pod(namespace).items[0].spec.node_name
    LabControl(lab.status["control_url"]).power_off(victim, mode)
    try:
        eventually(lambda: not _ready(core.read_node(victim)), 20, f"{victim} NotReady")
        # the node controller taints in a later pass than it flips the condition
        eventually(lambda: "node.kubernetes.io/unreachable" in {
            t.key for t in core.read_node(victim).spec.taints or []}, 10, "unreachable taint")

        def recovered_elsewhere() -> bool:
            pods = [p for p in core.list_namespaced_pod(namespace).items
                    if p.metadata.deletion_timestamp is None]
            return (len(pods) == 6 and all(_ready(p) for p in pods)
                    and all(p.spec.node_name != victim for p in pods))

        # NotReady after 5 s, NoExecute eviction 8 s later, then rescheduling: 13 s + margin
        try:
            eventually(recovered_elsewhere, 90, "6 ready pods on other nodes")
        except AssertionError as exc:
            pods = core.list_namespaced_pod(namespace).items
            state = [(p.metadata.name, p.spec.node_name, p.status.phase, _ready(p),
                      p.metadata.deletion_timestamp) for p in pods]
            nodes = [(n.metadata.name, _ready(n), [t.key for t in n.spec.taints or []])
                     for n in core.list_node().items]
            raise AssertionError(f"{exc}\npods: {state}\nnodes: {nodes}") from None
    finally:
        LabControl(lab.status["control_url"]).power_on(victim)
    eventually(lambda: _ready(core.read_node(victim)), 20, f"{victim} Ready again")


def test_graceful_shutdown_marks_pods_terminated(lab: LabHandle, apps: client.AppsV1Api,
                                                 core: client.CoreV1Api, namespace: str) -> None:
    apps.create_namespaced_deployment(namespace, deployment(
        "graceful", SAMPLE, replicas=2, spread=False, probes={"readinessProbe": HTTP_PROBE}))
    eventually(lambda: apps.read_namespaced_deployment(
        "graceful", namespace).status.ready_replicas == 2, 30, "2 ready")
    pod = core.list_namespaced_pod(namespace).items[0]
    node = pod.spec.node_name
    before = core.read_node(node).status.node_info.boot_id
    LabControl(lab.status["control_url"]).power_off(node, "graceful")
    try:
        after = core.read_namespaced_pod(pod.metadata.name, namespace)
        assert after.status.phase == "Failed"
        assert after.status.reason == "Terminated"
    finally:
        LabControl(lab.status["control_url"]).power_on(node)
    eventually(lambda: core.read_node(node).status.node_info.boot_id != before, 10, "new boot id")
