"""Node drain: cordon, then evict every evictable pod through the Eviction API; revert uncordons.

Like `kubectl drain`: DaemonSet pods and mirror (static) pods are skipped, PodDisruptionBudgets
are respected. A 429 from the Eviction API is a PDB refusal: retried until `pdb_timeout`, then a
FaultError naming the PDB(s) blocking it. The Eviction body's version (policy/v1 or v1beta1 on
Kubernetes < 1.22) is discovered from the server, never assumed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gameday.adapters.kube import KubeApiError, NodeInfo, PodInfo
from gameday.errors import ConditionTimeout, FaultError
from gameday.faults.base import Fault, FaultPlan, FaultResult, Target
from gameday.faults.selection import NodeSelector
from gameday.waiting import wait_for

if TYPE_CHECKING:
    from gameday.adapters.compute import ComputeAdapter
    from gameday.adapters.kube import KubeAdapter


def evictable(pod: PodInfo) -> bool:
    """What drain moves: not DaemonSet pods (they would come back), not mirror pods, not
    pods already finished or terminating."""
    return (pod.owner_kind != "DaemonSet" and not pod.mirror and not pod.terminating
            and not pod.finished)


def cordon_all(kube: KubeAdapter, nodes: list[str]) -> None:
    for name in nodes:
        kube.set_unschedulable(name, True)


def uncordon(kube: KubeAdapter, nodes: list[str]) -> list[str]:
    """Idempotent: uncordoning an uncordoned or vanished node is fine."""
    done = []
    for name in nodes:
        present = kube.set_unschedulable(name, False)
        done.append(f"uncordoned node/{name}" if present else f"node/{name} is gone: skipped")
    return done


def evict_with_retry(kube: KubeAdapter, pod: PodInfo, *, grace_seconds: int | None,
                     timeout: float, interval: float = 1.0) -> None:
    """Evict one pod, retrying PDB refusals (429) until `timeout`."""
    refusal: list[str] = []

    def attempt() -> bool | None:
        try:
            kube.evict_pod(pod.namespace, pod.name, grace_seconds)
            return True
        except KubeApiError as exc:
            if exc.status == 403 and kube.namespace_terminating(pod.namespace):
                return True  # the namespace controller is deleting it anyway
            if exc.status != 429:
                raise
            refusal[:] = [exc.message, *exc.causes]
            return None

    try:
        wait_for(f"eviction of {pod.namespace}/{pod.name}", attempt, timeout=timeout,
                 interval=interval, describe=lambda: "; ".join(refusal))
    except ConditionTimeout as exc:
        pdbs = kube.pdbs_matching(pod) or ["(no PDB selector matched; see the message)"]
        raise FaultError(
            f"could not evict {pod.namespace}/{pod.name} within {timeout:g}s: the "
            f"PodDisruptionBudget(s) {', '.join(pdbs)} refuse it ({'; '.join(refusal)}). Scale "
            "the workload up, relax the PDB, or raise the drain's pdb_timeout") from exc


class NodeDrain(Fault):
    kind = "node_drain"

    def __init__(self, target: Target, *, selector: NodeSelector,
                 grace_seconds: int | None = None, pdb_timeout: float = 60.0,
                 drained_timeout: float = 120.0) -> None:
        super().__init__(target)
        self.selector = selector
        self.grace_seconds = grace_seconds
        self.pdb_timeout = pdb_timeout
        self.drained_timeout = drained_timeout
        self._cluster: list[NodeInfo] = []
        self._nodes: list[NodeInfo] = []

    def _make_plan(self) -> FaultPlan:
        kube = self.target.kube
        self._cluster = kube.list_nodes()
        self._nodes = self.selector.select(self._cluster)
        pods = {n.name: [p for p in kube.list_pods(None, node=n.name) if evictable(p)]
                for n in self._nodes}
        names = [n.name for n in self._nodes]
        calls = [f"PATCH node/{n} spec.unschedulable=true" for n in names]
        calls += [f"POST pods/{p.namespace}/{p.name}/eviction ({kube.eviction_version()})"
                  for ps in pods.values() for p in ps]
        return FaultPlan(
            kind=self.kind, context=kube.context,
            summary=f"drain {len(names)} node(s) ({self.selector.describe()})",
            targets=tuple(f"node/{n} ({len(pods[n])} evictable pods)" for n in names),
            calls=tuple(calls), undo={"nodes": names},
        )

    def _check(self, plan: FaultPlan) -> None:
        self.target.safety.check_nodes(self._nodes, self._cluster)

    def _apply(self, plan: FaultPlan, result: FaultResult) -> None:
        kube = self.target.kube
        nodes = plan.undo["nodes"]
        cordon_all(kube, nodes)
        self.emit("cordoned", f"cordoned {', '.join(nodes)}", nodes=nodes)
        evicted = []
        for node in nodes:
            for pod in (p for p in kube.list_pods(None, node=node) if evictable(p)):
                evict_with_retry(kube, pod, grace_seconds=self.grace_seconds,
                                 timeout=self.pdb_timeout)
                evicted.append(f"{pod.namespace}/{pod.name}")
                self.emit("evicted", f"evicted {pod.namespace}/{pod.name} from {node}",
                          pod=pod.name, namespace=pod.namespace, node=node)
        wait_for(f"nodes {', '.join(nodes)} drained", lambda: self._drained(nodes),
                 timeout=self.drained_timeout, describe=lambda: self._left(nodes))
        result.data.update(evicted=evicted, drained_at=time.time())
        self.emit("drained", f"drained {', '.join(nodes)}", nodes=nodes)

    def _left(self, nodes: list[str]) -> list[str]:
        return [f"{p.namespace}/{p.name}" for n in nodes
                for p in self.target.kube.list_pods(None, node=n)
                if p.owner_kind != "DaemonSet" and not p.mirror
                and not p.finished]

    def _drained(self, nodes: list[str]) -> bool | None:
        return True if not self._left(nodes) else None

    @classmethod
    def undo(cls, undo: Mapping[str, Any], kube: KubeAdapter,
             compute: ComputeAdapter | None) -> list[str]:
        return uncordon(kube, list(undo["nodes"]))
