"""ZonePartition on the real lab: GCE firewall rules + setTags cut a zone's hollow kubelets off
the apiserver while their pod processes keep serving; the real node-lifecycle controller marks
the nodes NotReady and evicts, replacements run elsewhere next to the stale pods (the split
brain), and revert (or `recover` after a SIGKILL) leaves no rule or tag behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from gameday.adapters.compute import ComputeAdapter, parse_provider_id
from gameday.adapters.kube import KubeAdapter
from gameday.faults.base import Target
from gameday.faults.ledger import Ledger
from gameday.faults.recover import recover
from gameday.faults.safety import BlastRadius, Safety
from gameday.faults.zone_partition import RULE_PREFIX, ZonePartition
from gameday.lab.profiles import get_profile
from tests.conftest import LabHandle
from tests.helpers import deployment, eventually

pytestmark = pytest.mark.lab
SAMPLE = "gameday-lab/sample-app:1"


@pytest.fixture
def target(kube: KubeAdapter, compute: ComputeAdapter, tmp_path: Path) -> Target:
    return Target(kube=kube, safety=Safety(BlastRadius(max_nodes=2)), compute=compute,
                  ledger=Ledger(tmp_path / "ledger.jsonl"), profile=get_profile("fast"))


@pytest.fixture(autouse=True)
def nothing_left_behind(lab: LabHandle, kube: KubeAdapter,
                        compute: ComputeAdapter) -> Iterator[None]:
    yield
    project = lab.status["gce_project"]
    assert compute.firewall_names(project, RULE_PREFIX) == []
    for node in kube.list_nodes():
        tags = compute.network_tags(parse_provider_id(node.provider_id or ""))
        assert tags is not None and not [t for t in tags.items if t.startswith(RULE_PREFIX)]
    eventually(lambda: all(n.ready for n in kube.list_nodes()), 60, "every node Ready again")


def serves(ip: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{ip}:8080/", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def lab_nodes(lab: LabHandle) -> dict[str, dict]:
    with urllib.request.urlopen(f"{lab.state.url('labd')}/lab/nodes", timeout=5) as resp:
        return {n["name"]: n for n in json.load(resp)["nodes"]}


def test_partition_splits_the_brain_and_heals(lab: LabHandle, apps: client.AppsV1Api,
                                               kube: KubeAdapter, target: Target,
                                               namespace: str) -> None:
    apps.create_namespaced_deployment(namespace, deployment("web", SAMPLE, replicas=3,
                                                            spread=False, grace_s=1))
    eventually(lambda: apps.read_namespaced_deployment("web", namespace).status.ready_replicas
               == 3, 60, "3 ready web pods")
    pods = kube.list_pods(namespace, "app=web")
    zone_of = {n.name: n.zone for n in kube.list_nodes()}
    zone = zone_of[pods[0].node]  # type: ignore[index]
    stale = {p.name: p.ip for p in pods if zone_of[p.node] == zone}  # type: ignore[index]
    fault = ZonePartition(target, zone=zone)
    with fault as result:
        started = result.injected_at or time.time()
        cut = {n for n, d in lab_nodes(lab).items() if d["cut_off"]}
        assert cut == {n for n, z in zone_of.items() if z == zone}
        eventually(lambda: not any(n.ready for n in kube.list_nodes() if n.zone == zone), 30,
                   f"zone {zone} NotReady")
        not_ready_s = time.time() - started

        def replaced() -> bool:
            live = [p for p in kube.list_pods(namespace, "app=web")
                    if p.ready and p.name not in stale]
            return len(live) >= 3 and all(zone_of[p.node] != zone for p in live)  # type: ignore[index]
        eventually(replaced, 60, "3 ready replacements outside the partitioned zone")
        replaced_s = time.time() - started
        # the split brain: the evicted pods' processes still run and serve, unseen
        assert all(serves(ip) for ip in stale.values() if ip), stale
        left = {p.name: p for p in kube.list_pods(namespace, "app=web") if p.name in stale}
        assert left, "evicted pods stay (Terminating) until their kubelet is heard again"
        print(f"partition: NotReady after {not_ready_s:.1f} s, replacements Ready after "
              f"{replaced_s:.1f} s, {len(stale)} stale + 3 new pods serving")
    assert {n for n, d in lab_nodes(lab).items() if d["cut_off"]} == set()
    eventually(lambda: not any(p.name in stale for p in kube.list_pods(namespace, "app=web")),
               30, "the stale pods finalized by their kubelet once it reconnects")
    eventually(lambda: not any(serves(ip) for ip in stale.values() if ip), 10,
               "the stale processes stopped")


def test_recover_after_sigkill_removes_rules_and_tags(lab: LabHandle, kube: KubeAdapter,
                                                      compute: ComputeAdapter,
                                                      tmp_path: Path) -> None:
    zone = sorted({n.zone for n in kube.list_nodes()})[1]
    ledger = tmp_path / "crash" / "revert-ledger.jsonl"
    script = textwrap.dedent(f"""
        import os, signal
        from gameday.adapters.compute import ComputeAdapter
        from gameday.adapters.kube import KubeAdapter
        from gameday.faults.base import Target
        from gameday.faults.ledger import Ledger
        from gameday.faults.safety import Safety
        from gameday.faults.zone_partition import ZonePartition
        kube = KubeAdapter({str(lab.kubeconfig)!r}, {lab.context!r})
        compute = ComputeAdapter(api_endpoint={lab.status["compute_endpoint"]!r}, timeout=10)
        target = Target(kube, Safety(), Ledger({str(ledger)!r}), compute=compute)
        ZonePartition(target, zone={zone!r}, keep_load_balancer=False).inject()
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], timeout=60, cwd=os.getcwd())
    assert proc.returncode == -signal.SIGKILL
    assert len(compute.firewall_names(lab.status["gce_project"], RULE_PREFIX)) == 2
    lines = recover(ledger, kube, compute)
    assert sum("deleted firewall rule" in line for line in lines) == 2, lines
    assert sum("removed tag" in line for line in lines) == 2, lines
