"""Node preemption: lose Spot/preemptible node(s) the way GKE does.

GCE mode (a ComputeAdapter is given): resolve each node's VM from `spec.providerID` (exact
parse), check it is Spot/preemptible (on a standard VM simulateMaintenanceEvent is a live
migration, not a loss), call `instances.simulateMaintenanceEvent` (Compute Engine's documented
way to test a preemption), wait for the operation, then follow the recovery: the MIG recreates
the VM under the same name, so "back" means a new boot id, never just the name.

k8s-only mode (any cluster, no cloud access): emulate what the node's shutdown does to pods:
cordon, evict its pods with GKE's preemption grace (profile `preemption_pod_grace`, 15 s), and
delete the Node. Nothing can recreate the machine, so revert has nothing to put back (the
record says so); if the fault stopped before deleting the node, revert uncordons it.

Timeline events: notice, node_not_ready, pods_rescheduled, pods_ready, node_back (GCE mode).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gameday.adapters.kube import NodeInfo, PodInfo
from gameday.errors import UsageError
from gameday.faults.base import Fault, FaultPlan, FaultResult, Target
from gameday.faults.node_drain import cordon_all, evict_with_retry, evictable, uncordon
from gameday.faults.selection import NodeSelector
from gameday.faults.tracking import NodeLossTracker

if TYPE_CHECKING:
    from gameday.adapters.compute import ComputeAdapter
    from gameday.adapters.kube import KubeAdapter

PREEMPTIBLE_MODELS = ("SPOT", "PREEMPTIBLE")
ONE_SPOT_NODE = NodeSelector(provisioning="any-spot")


class NodePreemption(Fault):
    kind = "node_preemption"

    def __init__(self, target: Target, *,
                 selector: NodeSelector = ONE_SPOT_NODE,
                 pdb_timeout: float = 60.0, track_interval: float = 0.5) -> None:
        super().__init__(target)
        self.selector = selector
        self.pdb_timeout = pdb_timeout
        self.track_interval = track_interval
        self._cluster: list[NodeInfo] = []
        self._nodes: list[NodeInfo] = []
        self._pods: list[PodInfo] = []
        self.tracker: NodeLossTracker | None = None

    @property
    def gce_mode(self) -> bool:
        return self.target.compute is not None

    def _make_plan(self) -> FaultPlan:
        kube = self.target.kube
        self._cluster = kube.list_nodes()
        self._nodes = self.selector.select(self._cluster)
        self._pods = [p for n in self._nodes for p in kube.list_pods(None, node=n.name)
                      if evictable(p)]
        entries = [self._entry(n) for n in self._nodes]
        if self.gce_mode:
            calls = [f"POST {e['instance']}/simulateMaintenanceEvent; wait for the operation"
                     for e in entries]
            how = "simulateMaintenanceEvent (GCE)"
        else:
            grace = int(self.target.profile.preemption_pod_grace)
            calls = [f"PATCH node/{e['name']} spec.unschedulable=true" for e in entries]
            calls += [f"POST pods/{p.namespace}/{p.name}/eviction grace={grace}s"
                      for p in self._pods]
            calls += [f"DELETE node/{e['name']}" for e in entries]
            how = "emulated in Kubernetes (cordon, evict, delete Node)"
        return FaultPlan(
            kind=self.kind, context=kube.context,
            summary=f"preempt {len(entries)} node(s) ({self.selector.describe()}) via {how}",
            targets=tuple(f"node/{e['name']} zone {e['zone']} boot {e['boot_id']}"
                          + (f" {e['instance']} id {e['instance_id']}" if self.gce_mode else "")
                          for e in entries),
            calls=tuple(calls),
            undo={"mode": "gce" if self.gce_mode else "k8s", "nodes": entries,
                  "note": "nothing to recreate: the MIG recreates preempted VMs (GCE); an "
                          "emulated preemption deletes the Node for good (k8s)"},
        )

    def _entry(self, node: NodeInfo) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": node.name, "zone": node.zone, "boot_id": node.boot_id}
        if self.target.compute is not None:
            ref = self.target.compute.instance_ref(node.provider_id or "")
            info = self.target.compute.get_instance(ref)
            if info.provisioning not in PREEMPTIBLE_MODELS:
                raise UsageError(f"node {node.name} runs on a {info.provisioning} VM: only Spot "
                                 "or preemptible VMs can be preempted; select them with "
                                 "provisioning='any-spot'")
            entry.update(instance=str(ref), instance_id=info.id)
        return entry

    def _check(self, plan: FaultPlan) -> None:
        self.target.safety.check_nodes(self._nodes, self._cluster)

    def _apply(self, plan: FaultPlan, result: FaultResult) -> None:
        self.tracker = NodeLossTracker(
            self.target.kube, self._nodes, self._pods,
            emit=lambda kind, message, data: self.emit(kind, message, **data),
            interval=self.track_interval, expect_node_back=self.gce_mode)
        names = [e["name"] for e in plan.undo["nodes"]]
        self.emit("notice", f"preemption notice for {', '.join(names)}", nodes=names)
        self.tracker.start()
        if self.gce_mode:
            self._preempt_gce(plan.undo["nodes"])
        else:
            self._preempt_k8s(names)
        result.data["milestones"] = self.tracker.seen  # live: filled in as they happen

    def _preempt_gce(self, entries: list[dict[str, Any]]) -> None:
        from gameday.adapters.compute import parse_provider_id

        assert self.target.compute is not None
        for entry in entries:
            self.target.compute.simulate_maintenance_event(parse_provider_id(entry["instance"]))
            self.emit("preempted", f"simulateMaintenanceEvent done for {entry['instance']}",
                      node=entry["name"], instance=entry["instance"])

    def _preempt_k8s(self, names: list[str]) -> None:
        kube = self.target.kube
        cordon_all(kube, names)
        grace = int(self.target.profile.preemption_pod_grace)
        for pod in self._pods:
            evict_with_retry(kube, pod, grace_seconds=grace, timeout=self.pdb_timeout)
        for name in names:
            kube.delete_node(name)
            self.emit("node_deleted", f"deleted node/{name}", node=name)

    def wait_recovered(self, timeout: float) -> dict[str, float]:
        """Block until every milestone is seen (GCE mode includes the node coming back)."""
        if self.tracker is None:
            return {}
        return self.tracker.wait(timeout)

    def revert(self) -> list[str]:
        if self.tracker is not None:
            self.tracker.stop()
        return super().revert()

    @classmethod
    def undo(cls, undo: Mapping[str, Any], kube: KubeAdapter,
             compute: ComputeAdapter | None) -> list[str]:
        if undo["mode"] == "gce":
            return [f"node/{e['name']}: nothing to undo (the MIG recreates the VM)"
                    for e in undo["nodes"]]
        return uncordon(kube, [e["name"] for e in undo["nodes"]])
