"""deploy/rbac.yaml on the real lab: the faults run as an identity bound to exactly that file, and
what the file leaves out is refused with 403.

The lab's "harness" identity (user `gameday-harness`, no groups, static token) stands in for the
harness's ServiceAccount or Google service account: the file binds both roles to it. Every fault
here goes through `KubeAdapter` built from a kubeconfig of that identity, so a rule missing from
the file fails a fault test, and a rule too many fails the refusal tests. The lab is shared by the
session: RBAC objects this module created are deleted afterwards, and every test leaves all nodes
Ready, schedulable and untainted.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config, dynamic
from kubernetes.client.exceptions import ApiException

from gameday.adapters.kube import KubeAdapter, KubeApiError, NodeInfo
from gameday.adapters.kube_types import ClusterEvent
from gameday.cluster_events import EventRecorder
from gameday.faults.base import Target
from gameday.faults.healthcheck_lag import HealthcheckLag
from gameday.faults.ledger import Ledger
from gameday.faults.lock import LOCK_NAME, LOCK_NAMESPACE
from gameday.faults.node_drain import NodeDrain
from gameday.faults.pod_kill import PodKill
from gameday.faults.safety import BlastRadius, Safety
from gameday.faults.selection import NodeSelector
from gameday.faults.zone_outage import OUTAGE_TAINT, ZoneOutage
from gameday.lab import pki
from gameday.lab.apply import apply
from gameday.lab.profiles import get_profile
from tests.conftest import ROOT, LabHandle
from tests.helpers import deployment, eventually
from tests.lab.evidence_of_writes import dry_run_node_faults

pytestmark = pytest.mark.lab
RBAC_FILE = ROOT / "deploy" / "rbac.yaml"
HARNESS_USER = pki.IDENTITIES["harness"][0]
APP_ROLE = "gameday-harness-app"
NODES = 6  # the session lab's size (tests/conftest.py)
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"  # the controller's, on cordoned nodes


def rbac_docs() -> list[dict]:
    return [d for d in yaml.safe_load_all(RBAC_FILE.read_text()) if d]


def app_role_binding(namespace: str) -> dict:
    """The file's RoleBinding for the app role, moved to `namespace`: what a user does for an
    app outside the default namespace."""
    doc = next(d for d in rbac_docs() if d["kind"] == "RoleBinding"
               and d["roleRef"]["name"] == APP_ROLE)
    moved = copy.deepcopy(doc)
    moved["metadata"]["namespace"] = namespace
    return moved


@pytest.fixture(scope="module")
def rbac_applied(lab: LabHandle, api: client.ApiClient) -> Iterator[list[dict]]:
    """Apply deploy/rbac.yaml with the admin identity; delete afterwards what was not there."""
    docs = rbac_docs()
    resources = dynamic.DynamicClient(api).resources

    def handle(doc: dict) -> tuple:
        res = resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        return res, doc["metadata"]["name"], doc["metadata"].get("namespace")

    def exists(doc: dict) -> bool:
        res, name, namespace = handle(doc)
        try:
            res.get(name=name, namespace=namespace, _request_timeout=10)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    new = [d for d in docs if not exists(d)]
    apply(lab.kubeconfig, docs)
    yield docs
    for doc in reversed(new):
        res, name, namespace = handle(doc)
        res.delete(name=name, namespace=namespace, _request_timeout=10)


@pytest.fixture(scope="module")
def harness_kubeconfig(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rbac") / "harness.kubeconfig"
    return pki.write_kubeconfig(pki.Pki(lab.state_dir / "pki"), "harness",
                                lab.status["apiserver_url"], path)


@pytest.fixture(scope="module")
def harness(rbac_applied: list[dict], harness_kubeconfig: Path) -> Iterator[KubeAdapter]:
    adapter = KubeAdapter(harness_kubeconfig, pki.CONTEXT)
    yield adapter
    adapter.close()


@pytest.fixture(scope="module")
def harness_api(rbac_applied: list[dict], harness_kubeconfig: Path) -> client.ApiClient:
    """The same identity through the plain client, for calls the adapter never makes."""
    return config.new_client_from_config(str(harness_kubeconfig), context=pki.CONTEXT)


def allowed(harness_api: client.ApiClient, verb: str, resource: str, group: str = "",
            namespace: str | None = None, subresource: str = "", name: str = "") -> bool:
    """The apiserver's own answer to `kubectl auth can-i` for the harness identity."""
    review = {"spec": {"resourceAttributes": {
        "verb": verb, "group": group, "resource": resource, "subresource": subresource,
        "namespace": namespace or "", "name": name}}}
    answer = client.AuthorizationV1Api(harness_api).create_self_subject_access_review(
        review, _request_timeout=10)
    return bool(answer.status.allowed)


def allowed_path(harness_api: client.ApiClient, path: str) -> bool:
    review = {"spec": {"nonResourceAttributes": {"verb": "get", "path": path}}}
    answer = client.AuthorizationV1Api(harness_api).create_self_subject_access_review(
        review, _request_timeout=10)
    return bool(answer.status.allowed)


@pytest.fixture
def app_namespace(namespace: str, api: client.ApiClient, harness_api: client.ApiClient) -> str:
    """The test's namespace as the app's: the app role bound there, visible to the authorizer."""
    client.RbacAuthorizationV1Api(api).create_namespaced_role_binding(
        namespace, app_role_binding(namespace), _request_timeout=10)
    eventually(lambda: allowed(harness_api, "delete", "pods", namespace=namespace), 10,
               f"the app role to take effect in {namespace}")
    return namespace


@pytest.fixture
def make_target(harness: KubeAdapter, tmp_path: Path) -> Callable[..., Target]:
    def make(**kw: object) -> Target:
        return Target(kube=harness, safety=Safety(blast_radius=BlastRadius(max_nodes=2)),
                      ledger=Ledger(tmp_path / "ledger.jsonl"), profile=get_profile("fast"),
                      **kw)  # type: ignore[arg-type]
    return make


@pytest.fixture(autouse=True)
def nodes_restored(lab: LabHandle) -> Iterator[None]:
    """Whatever a test did, put every node back (uncordoned, untainted) with the admin identity
    and wait until all are Ready and schedulable: the next test of the session needs them.

    Also wait for the node-lifecycle controller to drop its `unschedulable` taint: on 1.20 it
    patches the taint list from a cached read with no resourceVersion, so a patch still pending
    from this test's uncordon could wipe a taint the next test adds."""
    yield
    admin = KubeAdapter(lab.kubeconfig, lab.context)

    def settled(node: NodeInfo) -> bool:
        keys = {t.key for t in node.taints}
        return (node.ready and not node.unschedulable
                and not keys & {OUTAGE_TAINT.key, UNSCHEDULABLE_TAINT})

    try:
        for node in admin.list_nodes():
            if OUTAGE_TAINT in node.taints:
                admin.remove_taint(node.name, OUTAGE_TAINT)
            if node.unschedulable:
                admin.set_unschedulable(node.name, False)
        eventually(lambda: (lambda ns: len(ns) == NODES and all(map(settled, ns)))(
            admin.list_nodes()), 60, f"all {NODES} nodes Ready, schedulable and untainted")
    finally:
        admin.close()


def harness_writes(lab: LabHandle) -> list[tuple[str, str]]:
    """(verb, resource[/subresource]) of every completed write the harness user made."""
    out = []
    for line in (lab.state_dir / "audit.log").read_text().splitlines():
        event = json.loads(line) if line.strip() else None
        if (event and event["user"]["username"] == HARNESS_USER
                and event["stage"] == "ResponseComplete"
                and event["verb"] in {"create", "patch", "update", "delete"}
                and event["responseStatus"]["code"] < 300):
            ref = event.get("objectRef") or {}
            sub = f"/{ref['subresource']}" if ref.get("subresource") else ""
            out.append((event["verb"], f"{ref.get('resource')}{sub}"))
    return out


def ready_deployment(apps: client.AppsV1Api, namespace: str, name: str, replicas: int) -> None:
    apps.create_namespaced_deployment(namespace, deployment(name, "nginx:1.25",
                                                            replicas=replicas, spread=False,
                                                            grace_s=1), _request_timeout=10)
    eventually(lambda: apps.read_namespaced_deployment(
        name, namespace, _request_timeout=10).status.ready_replicas == replicas, 40,
        f"{replicas} ready {name}")


# -- what the file grants --------------------------------------------------------------------

def test_every_rule_of_the_file_is_granted_where_it_should_be(
        rbac_applied: list[dict], harness_api: client.ApiClient, app_namespace: str) -> None:
    """Each (verb, group, resource) of both roles is allowed: the cluster role's everywhere,
    the app role's in the app's namespace only."""
    roles = {d["metadata"]["name"]: d for d in rbac_applied if d["kind"] == "ClusterRole"}
    checked = set()
    for role_name, role in roles.items():
        for rule in role["rules"]:
            for path in rule.get("nonResourceURLs", []):
                assert allowed_path(harness_api, path.replace("*", "v1")), path
            for group in rule.get("apiGroups", []):
                for full in rule["resources"]:
                    resource, _, sub = full.partition("/")
                    for verb in rule["verbs"]:
                        assert allowed(harness_api, verb, resource, group, app_namespace, sub), \
                            f"{role_name}: {verb} {group}/{full} in {app_namespace}"
                        elsewhere = allowed(harness_api, verb, resource, group, "kube-system",
                                            sub)
                        assert elsewhere == (role_name != APP_ROLE), \
                            f"{role_name}: {verb} {group}/{full} in kube-system: {elsewhere}"
                        checked.add((verb, group, full))
    assert {("delete", "", "nodes"), ("create", "", "pods/eviction"),
            ("patch", "cloud.google.com", "backendconfigs")} <= checked


def test_the_lock_role_reaches_only_the_lock(harness_api: client.ApiClient,
                                             rbac_applied: list[dict]) -> None:
    """Leases: create in the harness's namespace, get/delete of the lock alone; nothing in
    the namespaces where controllers and kubelets keep theirs."""
    def lease(verb: str, namespace: str, name: str = "") -> bool:
        return allowed(harness_api, verb, "leases", "coordination.k8s.io", namespace, name=name)

    eventually(lambda: lease("create", LOCK_NAMESPACE), 10, "the lock role to take effect")
    assert lease("get", LOCK_NAMESPACE, LOCK_NAME) and lease("delete", LOCK_NAMESPACE, LOCK_NAME)
    assert not lease("delete", LOCK_NAMESPACE, "someone-elses-lease")
    assert not lease("update", LOCK_NAMESPACE, LOCK_NAME)
    for namespace in ("kube-system", "kube-node-lease"):
        assert not any(lease(verb, namespace) for verb in ("create", "update", "delete"))


@pytest.mark.parametrize(("verb", "group", "resource"), [
    ("list", "", "secrets"), ("get", "", "configmaps"), ("create", "apps", "deployments"),
    ("patch", "apps", "deployments"), ("create", "", "pods"), ("update", "", "nodes"),
    ("delete", "", "namespaces"), ("deletecollection", "", "pods"), ("watch", "", "pods"),
    ("create", "rbac.authorization.k8s.io", "rolebindings"), ("create", "", "pods/exec"),
])
def test_what_the_file_leaves_out_is_not_granted(harness_api: client.ApiClient,
                                                 app_namespace: str, verb: str, group: str,
                                                 resource: str) -> None:
    name, _, sub = resource.partition("/")
    assert not allowed(harness_api, verb, name, group, app_namespace, sub)


def test_refused_with_403_through_the_same_identity(harness: KubeAdapter,
                                                    harness_api: client.ApiClient,
                                                    app_namespace: str) -> None:
    """Real requests, not reviews. Each targets a name that does not exist, so a wrongly
    granted right would answer 404 (and break nothing) instead of 403."""
    core, apps = client.CoreV1Api(harness_api), client.AppsV1Api(harness_api)
    refused = {
        "delete a namespace": lambda: core.delete_namespace("gameday-no-such-ns",
                                                            _request_timeout=10),
        "read secrets": lambda: core.list_namespaced_secret(app_namespace, _request_timeout=10),
        "create a Deployment": lambda: apps.create_namespaced_deployment(
            app_namespace, deployment("intruder", "nginx:1.25", replicas=1), dry_run="All",
            _request_timeout=10),
    }
    for what, call in refused.items():
        with pytest.raises(ApiException) as info:
            call()
        assert info.value.status == 403, f"{what}: HTTP {info.value.status}"
        assert HARNESS_USER in json.loads(info.value.body)["message"]
    # the adapter surfaces it too: a pod outside the app's namespace is out of reach
    with pytest.raises(KubeApiError) as err:
        harness.delete_pod("kube-system", "gameday-no-such-pod")
    assert err.value.status == 403 and "forbidden" in err.value.message


# -- the faults, run as the harness identity -------------------------------------------------

def test_pod_kill_as_the_harness(apps: client.AppsV1Api, harness: KubeAdapter,
                                 make_target: Callable[..., Target], app_namespace: str) -> None:
    ready_deployment(apps, app_namespace, "web", 2)
    target = make_target()
    kill = PodKill(target, namespace=app_namespace, selector="app=web", count=1)
    with kill as result:
        assert len(result.data["killed"]) == 1
    status = kill.wait_available("web", timeout=40)
    assert status.available == 2
    assert target.ledger.read().outstanding == ()


def test_node_drain_as_the_harness_reverts(lab: LabHandle, apps: client.AppsV1Api,
                                           harness: KubeAdapter,
                                           make_target: Callable[..., Target],
                                           app_namespace: str) -> None:
    ready_deployment(apps, app_namespace, "drainme", 2)
    node = harness.list_pods(app_namespace, "app=drainme")[0].node
    assert node is not None
    writes = len(harness_writes(lab))
    target = make_target()
    with NodeDrain(target, selector=NodeSelector(names=(node,)), drained_timeout=30):
        assert harness.get_node(node).unschedulable  # type: ignore[union-attr]
        assert all(p.node != node for p in harness.list_pods(app_namespace, "app=drainme")
                   if not p.terminating)
    assert not harness.get_node(node).unschedulable  # type: ignore[union-attr]
    assert target.ledger.read().outstanding == ()
    done = set(harness_writes(lab)[writes:])  # the writes were the harness user's own
    assert {("patch", "nodes"), ("create", "pods/eviction")} <= done


def test_zone_outage_k8s_mode_as_the_harness_reverts(harness: KubeAdapter,
                                                     make_target: Callable[..., Target]) -> None:
    zone = sorted({n.zone for n in harness.list_nodes() if n.zone})[0]
    with ZoneOutage(make_target(), zone=zone):
        hit = [n for n in harness.list_nodes() if n.zone == zone]
        assert len(hit) == 2
        assert all(n.unschedulable and OUTAGE_TAINT in n.taints for n in hit), \
            [(n.name, n.unschedulable, n.taints) for n in hit]
    assert all(not n.unschedulable and OUTAGE_TAINT not in n.taints
               for n in harness.list_nodes()), harness.list_nodes()


def test_healthcheck_patch_as_the_harness_restores_the_spec(
        api: client.ApiClient, harness: KubeAdapter, make_target: Callable[..., Target],
        app_namespace: str) -> None:
    old = {"checkIntervalSec": 1, "unhealthyThreshold": 2, "requestPath": "/readyz"}
    client.CoreV1Api(api).create_namespaced_service(app_namespace, {
        "metadata": {"name": "web", "annotations": {
            "cloud.google.com/backend-config": '{"default": "web-bc"}'}},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        _request_timeout=10)
    version = harness.preferred_version("cloud.google.com")
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        "cloud.google.com", version, app_namespace, "backendconfigs",
        {"apiVersion": f"cloud.google.com/{version}", "kind": "BackendConfig",
         "metadata": {"name": "web-bc"}, "spec": {"healthCheck": old}}, _request_timeout=10)
    with HealthcheckLag(make_target(), namespace=app_namespace, service="web",
                        health_check={"checkIntervalSec": 30}):
        now = harness.get_backend_config_spec(app_namespace, "web-bc")["healthCheck"]
        assert now == {**old, "checkIntervalSec": 30}
    assert harness.get_backend_config_spec(app_namespace, "web-bc")["healthCheck"] == old


def test_dry_runs_as_the_harness_plan_without_writing(lab: LabHandle, harness: KubeAdapter,
                                                      make_target: Callable[..., Target]) -> None:
    """The plans read everything a real run reads (nodes, pods of every namespace, Eviction
    discovery): the role must be enough for a preview on any cluster."""
    assert harness.server_version() == (1, 20)
    zone = sorted({n.zone for n in harness.list_nodes() if n.zone})[1]
    writes = len(harness_writes(lab))
    dry_run_node_faults(make_target(dry_run=True), zone)
    assert len(harness_writes(lab)) == writes


# -- what the report reads: the app's own selector, the cluster's events ---------------------

def test_the_apps_selector_is_its_deployments_own(apps: client.AppsV1Api, harness: KubeAdapter,
                                                  app_namespace: str) -> None:
    """An app labelled the Kubernetes-recommended way (no `app=<name>` label) is found by the
    selector its Deployment declares, which the `app` fixture now hands to the scenario."""
    doc = deployment("shop", "nginx:1.25", replicas=2, spread=False, grace_s=1)
    labels = {"app.kubernetes.io/name": "shop", "track": "stable"}
    doc["spec"]["selector"] = {"matchLabels": {"app.kubernetes.io/name": "shop"},
                               "matchExpressions": [{"key": "track", "operator": "In",
                                                     "values": ["stable", "canary"]}]}
    doc["spec"]["template"]["metadata"]["labels"] = labels
    apps.create_namespaced_deployment(app_namespace, doc, _request_timeout=10)
    status = eventually(lambda: (lambda s: s if s.fully_available else None)(
        harness.deployment_status(app_namespace, "shop")), 40, "shop available")
    assert status.selector == "app.kubernetes.io/name=shop,track in (stable,canary)"
    assert len(harness.list_pods(app_namespace, status.selector)) == 2
    assert harness.list_pods(app_namespace, "app=shop") == []  # what the fixture assumed


def test_events_are_listed_as_the_harness(apps: client.AppsV1Api, harness: KubeAdapter,
                                          namespace: str) -> None:
    seen: list[ClusterEvent] = []
    warnings: list[str] = []
    recorder = EventRecorder(harness, lambda e, _when: seen.append(e),
                             since=dt.datetime.now(dt.UTC), interval=0.2,
                             warn=warnings.append).start()
    try:
        apps.create_namespaced_deployment(namespace, deployment("ev", "nginx:1.25", replicas=1,
                                                                spread=False))
        eventually(lambda: any(e.reason == "ScalingReplicaSet" and namespace in e.object
                               for e in seen), 20, "a ScalingReplicaSet event")
    finally:
        recorder.stop()
    assert warnings == [] and recorder.errors == []


def test_events_refused_are_said_not_swallowed(lab: LabHandle, tmp_path: Path,
                                               rbac_applied: list[dict]) -> None:
    """An identity without `list events` (the lab's Prometheus one): the game day still runs,
    the narration warns once, and the report's timeline says why it has no events."""
    kubeconfig = pki.write_kubeconfig(pki.Pki(lab.state_dir / "pki"), "prometheus",
                                      lab.status["apiserver_url"], tmp_path / "prom.kubeconfig")
    (tmp_path / "test_events.py").write_text(
        "def test_phase(gameday):\n    gameday.observe('baseline', 2.5)\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:locust", "-p", "no:cacheprovider",
         "test_events.py", "--lab=off", "--kubeconfig", str(kubeconfig), "--kube-context",
         pki.CONTEXT, "--report-dir", str(tmp_path / "reports")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    said = "Kubernetes events unavailable, the timeline shows none: GET /api/v1/events: HTTP 403"
    assert proc.stdout.count(said) == 1, proc.stdout[-3000:]  # once, not every poll
    assert "grant the harness `list` on `events`" in proc.stdout
    evidence = json.loads(next((tmp_path / "reports").glob("*/tests/*/evidence.json"))
                          .read_text())
    notes = [e for e in evidence["events"] if e["kind"] == "events.unavailable"]
    assert len(notes) == 1 and said in notes[0]["message"]
    html = next(p for p in (tmp_path / "reports").glob("*/*.html"))
    assert "Kubernetes events unavailable" in html.read_text()
