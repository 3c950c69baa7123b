"""Every fault against the real lab: inject, observe, revert on every exit path, dry run makes
zero writes (checked in the apiserver's audit log and the GCE operation list), recover after
SIGKILL. The lab is shared by the session, so every test leaves every node Ready."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client

from gameday.adapters.compute import ComputeAdapter, parse_provider_id
from gameday.adapters.kube import KubeAdapter
from gameday.errors import FaultError, UsageError
from gameday.faults.base import Target
from gameday.faults.healthcheck_lag import HealthcheckLag
from gameday.faults.ledger import Ledger
from gameday.faults.lock import LOCK_NAME, LOCK_NAMESPACE
from gameday.faults.node_drain import NodeDrain
from gameday.faults.node_preemption import NodePreemption
from gameday.faults.pod_kill import PodKill
from gameday.faults.recover import recover
from gameday.faults.safety import BlastRadius, Safety
from gameday.faults.selection import NodeSelector
from gameday.faults.zone_outage import OUTAGE_TAINT, ZoneOutage
from gameday.lab.profiles import get_profile
from tests.conftest import LabHandle
from tests.helpers import deployment, eventually
from tests.lab.evidence_of_writes import audit_writes, dry_run_node_faults

pytestmark = pytest.mark.lab


@pytest.fixture
def make_target(kube: KubeAdapter, tmp_path: Path) -> Callable[..., Target]:
    def make(**kw: object) -> Target:
        events: list[tuple[str, str, dict]] = []
        target = Target(kube=kube, safety=Safety(BlastRadius(max_nodes=2)),
                        ledger=Ledger(tmp_path / "ledger.jsonl"), profile=get_profile("fast"),
                        evidence=lambda k, m, d: events.append((k, m, dict(d))), **kw)  # type: ignore[arg-type]
        target.events = events  # type: ignore[attr-defined]
        return target
    return make


@pytest.fixture(autouse=True)
def every_node_ready_after(kube: KubeAdapter) -> Iterator[None]:
    yield
    eventually(lambda: all(n.ready and not n.unschedulable for n in kube.list_nodes())
               and len(kube.list_nodes()) == 6, 60, "all 6 nodes Ready and schedulable")


def ready_deployment(apps: client.AppsV1Api, namespace: str, name: str, replicas: int,
                     spread: bool = False) -> None:
    apps.create_namespaced_deployment(namespace, deployment(name, "nginx:1.25",
                                                            replicas=replicas, spread=spread,
                                                            grace_s=1))
    eventually(lambda: apps.read_namespaced_deployment(
        name, namespace).status.ready_replicas == replicas, 40, f"{replicas} ready {name}")


def test_pod_kill_abrupt_then_deployment_available(apps: client.AppsV1Api, kube: KubeAdapter,
                                                   make_target: Callable[..., Target],
                                                   namespace: str) -> None:
    ready_deployment(apps, namespace, "web", 3)
    before = {p.uid for p in kube.list_pods(namespace, "app=web")}
    target = make_target()
    kill = PodKill(target, namespace=namespace, selector="app=web", percent=50)
    with kill as result:
        assert len(result.data["killed"]) == 2  # 50 % of 3, rounded up
    fault_pods = {k["pod"] for k in result.data["killed"]}
    status = kill.wait_available("web", timeout=40)  # not fooled by the stale status
    assert status.available == 3
    now = kube.list_pods(namespace, "app=web")
    assert not fault_pods & {p.name for p in now if not p.terminating}
    assert len({p.uid for p in now} - before) >= 2
    assert target.ledger.read().outstanding == ()


@pytest.mark.parametrize("exit_path", ["pass", "assertion", "exception"])
def test_drain_cordons_evicts_and_uncordons_on_every_exit(
        apps: client.AppsV1Api, kube: KubeAdapter, make_target: Callable[..., Target],
        namespace: str, exit_path: str) -> None:
    assert kube.eviction_version() == "policy/v1beta1"  # Kubernetes 1.20: discovered
    ready_deployment(apps, namespace, "drainme", 2)
    node = kube.list_pods(namespace, "app=drainme")[0].node
    assert node is not None
    target = make_target()

    def body() -> None:
        with NodeDrain(target, selector=NodeSelector(names=(node,)), drained_timeout=30):
            assert kube.get_node(node).unschedulable  # type: ignore[union-attr]
            assert all(p.node != node for p in kube.list_pods(namespace, "app=drainme")
                       if not p.terminating)
            if exit_path == "assertion":
                raise AssertionError("SLO violated")
            if exit_path == "exception":
                raise RuntimeError("scenario bug")

    if exit_path == "pass":
        body()
    else:
        with pytest.raises((AssertionError, RuntimeError)):
            body()
    assert not kube.get_node(node).unschedulable  # type: ignore[union-attr]
    assert target.ledger.read().outstanding == ()
    assert any(k == "node_drain.evicted" for k, _, _ in target.events)  # type: ignore[attr-defined]


def test_drain_blocked_by_pdb_fails_naming_it(apps: client.AppsV1Api, api: client.ApiClient,
                                              kube: KubeAdapter,
                                              make_target: Callable[..., Target],
                                              namespace: str) -> None:
    ready_deployment(apps, namespace, "guarded", 1)
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        "policy", "v1beta1", namespace, "poddisruptionbudgets",
        {"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget",
         "metadata": {"name": "guarded-pdb"},
         "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}}})
    node = kube.list_pods(namespace, "app=guarded")[0].node
    fault = NodeDrain(make_target(), selector=NodeSelector(names=(node,)), pdb_timeout=3)
    with pytest.raises(FaultError, match="guarded-pdb"):
        fault.inject()
    assert not kube.get_node(node).unschedulable  # type: ignore[union-attr]


def test_zone_outage_k8s_mode_taints_and_reverts(kube: KubeAdapter,
                                                 make_target: Callable[..., Target]) -> None:
    zone = sorted({n.zone for n in kube.list_nodes()})[0]
    with pytest.raises(UsageError, match=zone):
        ZoneOutage(make_target(), zone="mars-1a").plan()
    target = make_target()
    with ZoneOutage(target, zone=zone):
        hit = [n for n in kube.list_nodes() if n.zone == zone]
        assert len(hit) == 2
        assert all(n.unschedulable and OUTAGE_TAINT in n.taints for n in hit)
    assert all(not n.unschedulable and OUTAGE_TAINT not in n.taints
               for n in kube.list_nodes())


def test_dry_runs_make_zero_writes(lab: LabHandle, kube: KubeAdapter, compute: ComputeAdapter,
                                   make_target: Callable[..., Target]) -> None:
    zone = sorted({n.zone for n in kube.list_nodes()})[1]
    project = lab.status["gce_project"]
    ops_url = (f"{lab.status['compute_endpoint']}/compute/v1/projects/{project}/zones/{zone}"
               "/operations")

    def ops() -> int:
        with urllib.request.urlopen(ops_url, timeout=5) as resp:
            return len(json.load(resp).get("items", []))

    writes, gce_ops = len(audit_writes(lab)), ops()
    for target in (make_target(dry_run=True), make_target(dry_run=True, compute=compute)):
        dry_run_node_faults(target, zone)
    assert len(audit_writes(lab)) == writes
    assert ops() == gce_ops


def test_zone_outage_gce_mode_holds_the_zone_down(kube: KubeAdapter, compute: ComputeAdapter,
                                                  make_target: Callable[..., Target]) -> None:
    zone = sorted({n.zone for n in kube.list_nodes()})[2]
    target = make_target(compute=compute)
    fault = ZoneOutage(target, zone=zone)
    refs = [parse_provider_id(e) for e in fault.plan().undo["instances"]]
    project = refs[0].project
    with fault:
        assert all(compute.get_instance(r).status == "TERMINATED" for r in refs)
        assert {m.default_action_on_failure for m in compute.list_migs(project, zone)
                if {r.name for r in refs} & set(m.instance_names)} == {"DO_NOTHING"}
        eventually(lambda: not any(n.ready for n in kube.list_nodes() if n.zone == zone), 30,
                   f"zone {zone} NotReady")
        assert all(compute.get_instance(r).status == "TERMINATED" for r in refs)  # held down
    assert all(compute.get_instance(r).status == "RUNNING" for r in refs)
    assert {m.default_action_on_failure for m in compute.list_migs(project, zone)} == {"REPAIR"}


def test_preemption_gce_mode_tracks_the_recreated_node(apps: client.AppsV1Api,
                                                       kube: KubeAdapter,
                                                       compute: ComputeAdapter,
                                                       make_target: Callable[..., Target],
                                                       namespace: str) -> None:
    ready_deployment(apps, namespace, "spot", 3)
    node = kube.list_pods(namespace, "app=spot")[0].node
    old = kube.get_node(node)  # type: ignore[arg-type]
    assert old is not None
    old_id = compute.get_instance(parse_provider_id(old.provider_id or "")).id
    target = make_target(compute=compute)
    fault = NodePreemption(target, selector=NodeSelector(names=(old.name,)))
    with fault:
        seen = fault.wait_recovered(timeout=90)
    assert set(seen) == {"node_not_ready", "pods_rescheduled", "pods_ready", "node_back"}
    # the pods may end before the node is seen NotReady (GKE's graceful node shutdown kills
    # them first), so only the causal pairs are ordered
    assert seen["pods_rescheduled"] <= seen["pods_ready"]
    assert seen["node_not_ready"] <= seen["node_back"]
    new = kube.get_node(old.name)
    assert new is not None and new.boot_id != old.boot_id
    assert compute.get_instance(parse_provider_id(old.provider_id or "")).id != old_id
    kinds = [k for k, _, _ in target.events]  # type: ignore[attr-defined]
    assert kinds.index("node_preemption.notice") < kinds.index("node_preemption.node_back")


def test_healthcheck_lag_reports_killed_backends(apps: client.AppsV1Api, kube: KubeAdapter,
                                                 make_target: Callable[..., Target],
                                                 namespace: str) -> None:
    ready_deployment(apps, namespace, "backend", 2)
    ips = {p.name: p.ip for p in kube.list_pods(namespace, "app=backend")}
    with HealthcheckLag(make_target(), namespace=namespace, selector="app=backend") as result:
        killed = result.data["killed"]
    assert len(killed) == 1 and ips[killed[0]["name"]] == killed[0]["ip"]
    assert killed[0]["killed_at"] >= result.injected_at


def test_recover_after_sigkill_reverts_outstanding_records(lab: LabHandle, kube: KubeAdapter,
                                                           tmp_path: Path) -> None:
    zone = sorted({n.zone for n in kube.list_nodes()})[0]
    ledger = tmp_path / "crash" / "revert-ledger.jsonl"
    script = textwrap.dedent(f"""
        import os, signal
        from gameday.adapters.kube import KubeAdapter
        from gameday.faults.base import Target
        from gameday.faults.ledger import Ledger
        from gameday.faults.safety import Safety
        from gameday.faults.zone_outage import ZoneOutage
        kube = KubeAdapter({str(lab.kubeconfig)!r}, {lab.context!r})
        ZoneOutage(Target(kube, Safety(), Ledger({str(ledger)!r})), zone={zone!r}).inject()
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], timeout=60, cwd=os.getcwd())
    assert proc.returncode == -signal.SIGKILL
    assert all(n.unschedulable for n in kube.list_nodes() if n.zone == zone)
    with open(ledger, "ab") as fh:
        fh.write(b'{"event":"reverted","id":"zone_ou')  # and a torn last line for good measure
    assert kube.get_lease(LOCK_NAMESPACE, LOCK_NAME) is not None  # the killed run's lock
    lines = recover(ledger, kube, None)
    assert any("torn line" in line for line in lines)
    assert any("released the cluster lock" in line for line in lines), lines
    assert kube.get_lease(LOCK_NAMESPACE, LOCK_NAME) is None
    assert all(not n.unschedulable and OUTAGE_TAINT not in n.taints for n in kube.list_nodes())
    assert recover(ledger, kube, None)[-1].startswith("nothing outstanding")


def test_preemption_k8s_mode_evicts_and_deletes_the_node(lab: LabHandle, apps: client.AppsV1Api,
                                                         kube: KubeAdapter,
                                                         make_target: Callable[..., Target],
                                                         namespace: str) -> None:
    ready_deployment(apps, namespace, "emu", 3)
    node = kube.list_pods(namespace, "app=emu")[0].node
    assert node is not None
    target = make_target()
    fault = NodePreemption(target, selector=NodeSelector(names=(node,)))
    try:
        with fault:
            seen = fault.wait_recovered(timeout=60)
            assert kube.get_node(node) is None
        assert list(seen) == ["node_not_ready", "pods_rescheduled", "pods_ready"]
        assert all(p.node != node for p in kube.list_pods(namespace, "app=emu"))
        assert target.ledger.read().outstanding == ()
    finally:  # the lab's machine is still on: power-cycle it so its kubelet registers again
        for action in ("power-off", "power-on"):
            req = urllib.request.Request(f"{lab.status['control_url']}/lab/nodes/{node}/{action}",
                                         method="POST")
            urllib.request.urlopen(req, timeout=30).close()
