"""Recovery-time accuracy: what the harness measures against the lab's own ground truth.

labd records, with wall-clock time, when a VM's node really came back (`node.power_on`) and when
each pod really turned Ready (`pod.ready`). The harness measures the same moments from outside,
through the apiserver (the fault's tracker) and through Prometheus (scraped every second in the
fast profile). Both must land within a second of the truth.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest
from kubernetes import client

from gameday.adapters.compute import ComputeAdapter
from gameday.adapters.kube import KubeAdapter, PodInfo
from gameday.adapters.prometheus import PromClient
from gameday.faults.base import Target
from gameday.faults.ledger import Ledger
from gameday.faults.node_preemption import NodePreemption
from gameday.faults.safety import Safety
from gameday.faults.selection import NodeSelector
from gameday.lab.control_client import LabControl
from gameday.lab.profiles import get_profile
from tests.conftest import LabHandle
from tests.helpers import deployment, eventually

pytestmark = pytest.mark.lab
TOLERANCE_S = 1.0


@pytest.fixture
def kube(lab: LabHandle) -> Iterator[KubeAdapter]:
    adapter = KubeAdapter(lab.kubeconfig, lab.context)
    yield adapter
    eventually(lambda: all(n.ready and not n.unschedulable for n in adapter.list_nodes())
               and len(adapter.list_nodes()) == 6, 60, "all 6 nodes Ready and schedulable")
    adapter.close()


def replica_set(namespace: str, pod: str) -> str:
    """`ns/web-5d9c7b-x2x4z` -> `ns/web-5d9c7b`: replacements share it with the lost pod."""
    return f"{namespace}/{pod.rsplit('-', 1)[0]}"


def live(pod: PodInfo, gone: set[str]) -> bool:
    """A pod that counts: not finished (a pod a graceful node shutdown ended stays behind as
    Failed, already replaced), not leaving, not in a namespace being deleted."""
    return not pod.finished and not pod.terminating and pod.namespace not in gone


def unsettled(kube: KubeAdapter, gone: set[str]) -> list[tuple[str, str | None, str, bool, bool]]:
    """Live ReplicaSet pods that are not Ready yet."""
    return [(f"{p.namespace}/{p.name}", p.node, p.phase, p.ready, p.terminating)
            for p in kube.list_pods(None)
            if live(p, gone) and p.owner_kind == "ReplicaSet" and not p.ready]


def first_sample_at(prom: PromClient, selector: str, value: float, start: float,
                    end: float) -> float:
    """Scrape time of the first raw sample equal to `value` in [start, end]."""
    series = prom.samples(selector, start, end)
    hits = [t for s in series for t, v in s.points if v == value and t >= start]
    assert hits, f"no sample of {selector} = {value} between {start} and {end}"
    return min(hits)


def test_measured_recovery_matches_ground_truth(lab: LabHandle, kube: KubeAdapter,
                                                apps: client.AppsV1Api, namespace: str,
                                                tmp_path) -> None:
    apps.create_namespaced_deployment(namespace, deployment("acc", "nginx:1.25", replicas=3,
                                                            spread=False, grace_s=1))
    eventually(lambda: apps.read_namespaced_deployment("acc", namespace).status.ready_replicas
               == 3, 40, "3 ready replicas")
    victim = kube.list_pods(namespace, "app=acc")[0].node
    # every namespace: the demo app's pods move too; not those of namespaces being deleted
    # (other tests' leftovers), which get no replacement
    gone = {ns for ns in {p.namespace for p in kube.list_pods(None)}
            if kube.namespace_terminating(ns)}
    # wait out what earlier tests left in flux: a replica still starting on the victim may
    # simply start there once the node is back, and then no replacement ever comes
    eventually(lambda: not unsettled(kube, gone), 60, "every live ReplicaSet pod Ready",
               explain=lambda: f"unsettled: {unsettled(kube, gone)}")
    before = [p for p in kube.list_pods(None) if live(p, gone)]
    # only ReplicaSet pods get replacements (a bare pod or a Job's is just gone)
    moved = Counter(replica_set(p.namespace, p.name) for p in before
                    if p.node == victim and p.owner_kind == "ReplicaSet")
    target = Target(kube=kube, safety=Safety(), ledger=Ledger(tmp_path / "ledger.jsonl"),
                    compute=ComputeAdapter(api_endpoint=lab.status["compute_endpoint"]),
                    profile=get_profile("fast"))
    t0 = time.time()
    fault = NodePreemption(target, selector=NodeSelector(names=(victim,)), track_interval=0.1)
    with fault:
        seen = fault.wait_recovered(timeout=90)
    truth = LabControl(lab.status["control_url"]).events(since=t0)
    node_back = min(e["ts"] for e in truth if e["kind"] == "node.power_on"
                    and e["node"] == victim)
    old = {f"{p.namespace}/{p.name}" for p in before}
    ready_at: dict[str, float] = {}
    for e in truth:
        if e["kind"] == "pod.ready" and e["pod"] not in old:
            ready_at.setdefault(e["pod"], e["ts"])
    per_set: dict[str, list[float]] = defaultdict(list)
    for pod, ts in ready_at.items():
        per_set[replica_set(*pod.split("/"))].append(ts)
    # all replacements are Ready when the last ReplicaSet got back its last lost replica
    short = {rs: (len(per_set[rs]), count) for rs, count in moved.items()
             if len(per_set[rs]) < count}
    assert not short, f"replacements Ready per ReplicaSet (seen, lost): {short}; {truth[-20:]}"
    pods_ready = max(sorted(per_set[rs])[count - 1] for rs, count in moved.items())
    assert abs(seen["node_back"] - node_back) <= TOLERANCE_S, (seen, node_back)
    assert abs(seen["pods_ready"] - pods_ready) <= TOLERANCE_S, (seen, pods_ready)

    prom = PromClient(lab.status["prometheus_url"])
    prom.wait_for_scrape(time.time())
    scraped_back = first_sample_at(
        prom, f'kube_node_status_condition{{node="{victim}",condition="Ready",status="true"}}',
        1.0, node_back - 0.5, time.time())
    assert abs(scraped_back - node_back) <= TOLERANCE_S, (scraped_back, node_back)
