"""Cluster load placement on the real lab: Locust master and workers as pods created through
the apiserver, driven through its pod proxy, scraped by the lab's Prometheus from their
annotations, recorded in the ledger before the first create and gone on every exit path.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.adapters.kube import KubeAdapter
from gameday.adapters.prometheus import PromClient
from gameday.errors import SafetyError, UsageError
from gameday.faults.base import Target
from gameday.faults.ledger import Ledger
from gameday.faults.node_drain import NodeDrain
from gameday.faults.recover import recover
from gameday.faults.safety import Safety
from gameday.faults.selection import NodeSelector
from gameday.load import LoadSpec
from gameday.load.cluster import ClusterLoad
from gameday.load.manifests import NAMESPACE, Names, Placement
from gameday.load.placement import default_image, discover_monitor
from tests.conftest import ROOT, LabHandle
from tests.helpers import eventually
from tests.lab.test_rbac_lab import harness, harness_kubeconfig, rbac_applied  # noqa: F401

pytestmark = pytest.mark.lab


def _load(lab: LabHandle, kube: KubeAdapter, tmp_path: Path, run_id: str,
          workers: int = 1) -> ClusterLoad:
    spec = LoadSpec(host=lab.status["ingress_url"], users=4, spawn_rate=4)
    return ClusterLoad(spec, tmp_path / "load", kube=kube,
                       ledger=Ledger.in_run_folder(tmp_path), run_id=run_id,
                       placement=Placement(image=default_image(), workers=workers),
                       scrape_interval_s=1.0, start_timeout_s=60)


def _pods(kube: KubeAdapter, run_id: str) -> list[str]:
    return [p.name for p in kube.list_pods(NAMESPACE, Names(run_id).selector)]


@pytest.fixture
def running(lab: LabHandle, kube: KubeAdapter, tmp_path: Path) -> Iterator[ClusterLoad]:
    load = _load(lab, kube, tmp_path, f"t{os.getpid()}-{time.monotonic_ns() % 10**6}", 2)
    try:
        yield load.start()
    finally:
        load.stop()


def test_load_pods_send_requests_that_the_clusters_prometheus_scrapes(
        lab: LabHandle, kube: KubeAdapter, running: ClusterLoad) -> None:
    assert sorted(_pods(kube, running.run_id)) == sorted(
        [running.names.master, running.names.worker(0), running.names.worker(1)])
    prom = PromClient(lab.status["prometheus_url"])
    series = f'gameday_load_requests_total{{gameday_run="{running.run_id}",code="200"}}'
    workers = {running.names.worker(0), running.names.worker(1)}

    def scraped() -> set[str]:
        return {str(s.labels.get("pod")) for s in prom.query(series) if s.value > 0}

    eventually(lambda: scraped() == workers, 30, f"{series} of both workers in Prometheus")
    assert not scraped() - workers  # the master sends none
    assert running.running
    running.stop()
    result = running.result()
    assert result.requests > 10 and result.failures == 0, result
    assert _pods(kube, running.run_id) == []
    outstanding = running.ledger.read().outstanding
    assert outstanding == (), outstanding


def test_a_fault_on_a_node_running_load_is_refused_before_any_write(
        lab: LabHandle, kube: KubeAdapter, running: ClusterLoad, tmp_path: Path) -> None:
    protected = running.protected()
    node = next(k.split("/", 1)[1] for k in protected if k.startswith("node/"))
    target = Target(kube=kube, safety=Safety(), ledger=Ledger.in_run_folder(tmp_path / "f"),
                    protected=running.protected)
    with pytest.raises(SafetyError, match=f"node/{node}.*load pod"):
        NodeDrain(target, selector=NodeSelector(names=(node,))).inject()
    assert not next(n for n in kube.list_nodes() if n.name == node).unschedulable
    assert not (tmp_path / "f" / "revert-ledger.jsonl").exists()


def test_a_lost_worker_is_recorded_with_its_time(kube: KubeAdapter,
                                                 running: ClusterLoad) -> None:
    before = time.time()
    kube.delete_pod(NAMESPACE, running.names.worker(1), grace_seconds=0)
    eventually(lambda: running.lost_workers, 30, "the keeper to see the worker gone")
    when, lost, planned = running.lost_workers[0]
    assert (lost, planned) == (1, 2) and when >= before


def test_recover_deletes_the_load_of_a_killed_harness(lab: LabHandle, kube: KubeAdapter,
                                                      tmp_path: Path) -> None:
    """A harness SIGKILLed with load running: the ledger names the pods, recover deletes
    them."""
    run_id = f"k{os.getpid()}"
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from gameday.adapters.kube import KubeAdapter
        from tests.lab.test_load_cluster import _load
        from tests.conftest import LabHandle
        from gameday.lab.state import LabState
        lab = LabHandle(LabState.load(Path({str(lab.state_dir)!r})))
        kube = KubeAdapter(lab.kubeconfig, lab.context)
        _load(lab, kube, Path({str(tmp_path)!r}), {run_id!r}).start()
        print("started", flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "started", proc.stderr.read() if proc.poll() is not None else line
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert _pods(kube, run_id), "the killed harness left its load pods (what recover is for)"
    lines = recover(tmp_path / "revert-ledger.jsonl", kube, None)
    assert any("deleted load pod" in line for line in lines), lines
    eventually(lambda: not _pods(kube, run_id), 60, "the load pods to be gone")


def test_the_lab_has_no_monitor_crds_so_annotations_are_used(kube: KubeAdapter) -> None:
    assert discover_monitor(kube, "auto") == ("annotations", None)
    with pytest.raises(UsageError, match=r"monitoring\.googleapis\.com"):
        discover_monitor(kube, "podmonitoring")


def test_the_rbac_file_is_enough_for_the_in_cluster_load(
        lab: LabHandle, harness: KubeAdapter, tmp_path: Path) -> None:  # noqa: F811
    """The whole life of a cluster load as the identity bound to deploy/rbac.yaml only."""
    load = _load(lab, harness, tmp_path, f"r{os.getpid()}")
    try:
        load.start()
        assert load.running and load.protected()
    finally:
        load.stop()
    assert load.result().requests > 0
    assert _pods(harness, load.run_id) == []


LOST_WORKER_SCENARIO = """
from gameday.slo import Availability, Latency


def test_lost_worker(gameday):
    with gameday.load(users=4, workers=2, placement="cluster") as load:
        with gameday.phase("fault"):
            gameday.hold(3)
            gameday.kube.delete_pod("gameday", load.names.worker(1), grace_seconds=0)
            gameday.hold(8)
    slos = [Availability.from_load(0.5), Availability.from_lb(0.5), Latency.from_load(0.5, 5)]
    for v in gameday.evaluate(slos, "fault"):
        print("VERDICT", v.status.value, v.message)
"""


def test_a_worker_lost_mid_game_day_makes_its_load_verdicts_inconclusive(
        lab: LabHandle, tmp_path: Path) -> None:
    """Never a pass, never a service failure: the load was not what the scenario planned.
    The load balancer's own count still judges the service."""
    scenario = tmp_path / "test_lost_worker.py"
    scenario.write_text(LOST_WORKER_SCENARIO)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:locust", "-p", "no:cacheprovider", "-q",
         "-s", str(scenario), "--lab-dir", str(lab.state_dir), "--lab=running",
         "--report-dir", str(tmp_path / "reports")],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("VERDICT ")]
    load = [line for line in lines if "gameday_load" in line]
    server = [line for line in lines if "gameday_lb" in line]
    assert len(load) == 2 and all(line.startswith("VERDICT inconclusive ") and
                                  "lost 1 of 2 worker(s)" in line for line in load), lines
    assert len(server) == 1 and server[0].startswith("VERDICT pass "), lines


PODMONITORING_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "podmonitorings.monitoring.googleapis.com"},
    "spec": {"group": "monitoring.googleapis.com", "scope": "Namespaced",
             "names": {"plural": "podmonitorings", "singular": "podmonitoring",
                       "kind": "PodMonitoring", "listKind": "PodMonitoringList"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                 "openAPIV3Schema": {"type": "object",
                                     "x-kubernetes-preserve-unknown-fields": True}}}]}}


def test_with_managed_prometheus_crds_a_podmonitoring_selects_the_workers(
        lab: LabHandle, kube: KubeAdapter, tmp_path: Path) -> None:
    """Where GMP's CRD exists (every GKE cluster with Managed Prometheus), the workers are
    scraped through a PodMonitoring created with the run and deleted with it."""
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    kube.request("POST", crds, body=PODMONITORING_CRD)
    try:
        def discovered() -> tuple[str, str | None]:
            fresh = KubeAdapter(lab.kubeconfig, lab.context)  # discovery is cached per adapter
            try:
                return discover_monitor(fresh, "auto")
            finally:
                fresh.close()

        eventually(lambda: discovered()[0] == "podmonitoring", 30,
                   "the PodMonitoring API to be served")
        kind, version = discovered()
        probe = KubeAdapter(lab.kubeconfig, lab.context)
        run_id = f"m{os.getpid()}"
        spec = LoadSpec(host=lab.status["ingress_url"], users=2, spawn_rate=2)
        load = ClusterLoad(spec, tmp_path / "load", kube=probe,
                           ledger=Ledger.in_run_folder(tmp_path), run_id=run_id,
                           placement=Placement(image=default_image(), monitor=kind),
                           monitor_version=version, scrape_interval_s=1.0, start_timeout_s=60)
        path = f"/apis/monitoring.googleapis.com/v1/namespaces/{NAMESPACE}/podmonitorings"
        try:
            load.start()
            (obj,) = kube.request("GET", path)["items"]
            assert obj["spec"]["selector"]["matchLabels"] == {
                "gameday.dev/load-run": run_id, "gameday.dev/load-role": "worker"}
            pods = kube.request("GET", f"/api/v1/namespaces/{NAMESPACE}/pods",
                                query={"labelSelector": "gameday.dev/load-role=worker,"
                                                        f"gameday.dev/load-run={run_id}"})
            assert len(pods["items"]) == 1
            assert "prometheus.io/scrape" not in pods["items"][0]["metadata"].get("annotations", {})
        finally:
            load.stop()
            probe.close()
        assert kube.request("GET", path)["items"] == []
    finally:
        kube.request("DELETE", f"{crds}/podmonitorings.monitoring.googleapis.com")
