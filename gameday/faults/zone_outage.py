"""Zone outage: every node of one zone down for the `with` block, then back.

GCE mode: first set `instanceLifecyclePolicy.defaultActionOnFailure = DO_NOTHING` on the MIGs
that own the zone's nodes (otherwise REPAIR would recreate the stopped VMs and end the outage
early), then stop the instances. Revert starts them and restores each MIG's old policy (the old
values are in the ledger). This is the high-fidelity outage: heartbeats stop, the real
node-lifecycle controller marks the nodes NotReady, its eviction rate limits apply.

k8s-only mode: cordon every node of the zone and taint it `gameday.dev/zone-outage:NoExecute`
(evicts pods that do not tolerate it). Revert removes the taint and uncordons. This is a
graceful, control-plane-healthy approximation; reports should say which mode ran.

Safety: the zone must exist, and the last zone with healthy nodes is refused unless
`allow_last_zone=True`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gameday.adapters.kube import NodeInfo, Taint
from gameday.errors import UsageError
from gameday.faults.base import Fault, FaultPlan, FaultResult, Target
from gameday.faults.node_drain import cordon_all
from gameday.faults.selection import known_zones
from gameday.waiting import wait_for

if TYPE_CHECKING:
    from gameday.adapters.compute import ComputeAdapter
    from gameday.adapters.kube import KubeAdapter

SETTLING = frozenset({"STOPPING", "PROVISIONING", "STAGING", "SUSPENDING", "REPAIRING"})
OUTAGE_TAINT = Taint("gameday.dev/zone-outage", "NoExecute", "true")


class ZoneOutage(Fault):
    kind = "zone_outage"

    def __init__(self, target: Target, *, zone: str, allow_last_zone: bool = False) -> None:
        super().__init__(target)
        self.zone = zone
        self.allow_last_zone = allow_last_zone
        self._cluster: list[NodeInfo] = []
        self._nodes: list[NodeInfo] = []

    def _make_plan(self) -> FaultPlan:
        kube = self.target.kube
        self._cluster = kube.list_nodes()
        zones = known_zones(self._cluster)
        if self.zone not in zones:
            raise UsageError(f"unknown zone {self.zone!r}: the cluster's nodes are in "
                             f"{', '.join(zones) or 'no labelled zone'}")
        self._nodes = sorted((n for n in self._cluster if n.zone == self.zone),
                             key=lambda n: n.name)
        names = [n.name for n in self._nodes]
        if self.target.compute is not None:
            undo, calls = self._gce_plan()
        else:
            undo = {"mode": "k8s", "nodes": names, "taint": OUTAGE_TAINT.as_dict()}
            calls = [f"PATCH node/{n} spec.unschedulable=true, add taint "
                     f"{OUTAGE_TAINT.key}={OUTAGE_TAINT.value}:{OUTAGE_TAINT.effect}"
                     for n in names]
        return FaultPlan(kind=self.kind, context=kube.context,
                         summary=f"take zone {self.zone} down ({len(names)} nodes, "
                                 f"{undo['mode']} mode)",
                         targets=tuple(f"node/{n}" for n in names), calls=tuple(calls),
                         undo=undo)

    def _gce_plan(self) -> tuple[dict[str, Any], list[str]]:
        from gameday.adapters.compute import DO_NOTHING

        assert self.target.compute is not None
        refs = [self.target.compute.instance_ref(n.provider_id or "") for n in self._nodes]
        projects = {r.project for r in refs}
        if len(projects) != 1:
            raise UsageError(f"zone {self.zone}'s nodes span projects {sorted(projects)}: "
                             "one zone outage must stay in one project")
        project = projects.pop()
        names = {r.name for r in refs}
        migs = [m for m in self.target.compute.list_migs(project, self.zone)
                if names & set(m.instance_names)]
        undo = {"mode": "gce", "project": project, "zone": self.zone,
                "instances": [str(r) for r in refs],
                "migs": [{"name": m.name, "old_action": m.default_action_on_failure}
                         for m in migs]}
        calls = [f"PATCH instanceGroupManagers/{m.name} defaultActionOnFailure={DO_NOTHING} "
                 f"(was {m.default_action_on_failure})" for m in migs]
        calls += [f"POST {r}/stop" for r in refs]
        return undo, calls

    def _check(self, plan: FaultPlan) -> None:
        self.target.safety.check_keeps_a_zone(self._nodes, self._cluster,
                                              allow_last_zone=self.allow_last_zone)

    def _apply(self, plan: FaultPlan, result: FaultResult) -> None:
        undo = plan.undo
        if undo["mode"] == "k8s":
            self._hold_k8s(undo["nodes"])
            self.emit("down", f"zone {self.zone}: cordoned and tainted", nodes=undo["nodes"])
            return
        from gameday.adapters.compute import DO_NOTHING, parse_provider_id

        compute = self.target.compute
        assert compute is not None
        for mig in undo["migs"]:
            compute.set_mig_failure_action(undo["project"], self.zone, mig["name"], DO_NOTHING)
        self.emit("migs_hold", f"MIG repair off in {self.zone}",
                  migs=[m["name"] for m in undo["migs"]])
        compute.stop_instances([parse_provider_id(i) for i in undo["instances"]])
        self.emit("down", f"zone {self.zone}: every instance stopped "
                  f"({len(undo['instances'])} at once)", instances=undo["instances"])

    def _hold_k8s(self, nodes: list[str], timeout: float = 15.0) -> None:
        """Cordon and taint, then confirm it stuck: on Kubernetes 1.20 the node-lifecycle
        controller rewrites taint lists from a stale cache (no version check before 1.21),
        which can drop a taint just added. Re-apply until every node shows both."""
        kube = self.target.kube

        def held() -> bool | None:
            missing = [n for n in kube.list_nodes() if n.name in nodes and (
                not n.unschedulable or not any(t.key == OUTAGE_TAINT.key for t in n.taints))]
            if not missing:
                return True
            cordon_all(kube, [n.name for n in missing])
            for node in missing:
                kube.add_taint(node.name, OUTAGE_TAINT)
            return None

        wait_for(f"zone {self.zone}'s nodes to stay cordoned and tainted", held,
                 timeout=timeout, interval=0.2)

    @classmethod
    def undo(cls, undo: Mapping[str, Any], kube: KubeAdapter,
             compute: ComputeAdapter | None) -> list[str]:
        if undo["mode"] == "k8s":
            taint = Taint(undo["taint"]["key"], undo["taint"]["effect"],
                          undo["taint"].get("value", ""))
            done = []
            for name in undo["nodes"]:
                present = kube.remove_taint(name, taint) and kube.set_unschedulable(name, False)
                done.append(f"untainted and uncordoned node/{name}" if present
                            else f"node/{name} is gone: skipped")
            return done
        from gameday.adapters.compute import parse_provider_id

        if compute is None:
            raise UsageError("this zone outage stopped Compute Engine VMs: reverting it needs "
                             "Compute access (the compute adapter / --gce-endpoint)")
        refs = [parse_provider_id(i) for i in undo["instances"]]
        for ref, instance in zip(refs, undo["instances"], strict=True):
            # a revert can interrupt the stop itself (Ctrl-C, SIGTERM mid-inject): GCE refuses
            # to start a VM that is still STOPPING, so let the stop finish first
            wait_for(f"{instance} to leave {', '.join(sorted(SETTLING))}",
                     lambda r=ref: True if compute.get_instance(r).status not in SETTLING
                     else None, timeout=compute.operation_timeout, interval=0.5)
        compute.start_instances(refs)  # starting a RUNNING VM: no-op
        done = [f"started {instance}" for instance in undo["instances"]]
        for mig in undo["migs"]:
            compute.set_mig_failure_action(undo["project"], undo["zone"], mig["name"],
                                           mig["old_action"])
            done.append(f"MIG {mig['name']} defaultActionOnFailure={mig['old_action']}")
        return done
