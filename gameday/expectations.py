"""Expectations a scenario checks on the cluster while it runs: the app is available before
the game day, its replicas came back elsewhere, the lost nodes were replaced. Mixed into
`GameDay`; each records what it saw as evidence (events and figures).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from gameday.evidence import Evidence

if TYPE_CHECKING:
    from gameday.adapters.kube import DeploymentStatus, KubeAdapter
    from gameday.faults.base import Fault
    from gameday.faults.selection import NodeSelector
    from gameday.run import RunContext


class Expectations:
    """Cluster-side checks with bounded waits."""

    evidence: Evidence
    run: RunContext
    _faults: list[Fault]
    _phase_starts: dict[str, float]

    @property
    def dry_run(self) -> bool:
        raise NotImplementedError

    @property
    def kube(self) -> KubeAdapter:
        raise NotImplementedError

    def protected_targets(self) -> dict[str, str]:
        raise NotImplementedError

    def ensure_available(self, namespace: str, name: str, timeout_s: float
                         ) -> DeploymentStatus:
        """The app must be fully available before a scenario starts (else a clear error)."""
        from gameday.checks import ensure_available

        status = ensure_available(self.kube, namespace, name, timeout_s)
        self.evidence.event("app.available", f"{namespace}/{name}: {status.available}/"
                            f"{status.desired} available", source="gameday")
        return status

    def expect_replicas_outside(self, app: Any, zone: str, timeout_s: float) -> float:
        """Wait until all of the app's replicas are ready outside `zone`; figure
        `rescheduled_s` is the time from the fault's injection until then."""
        if self.dry_run:
            return 0.0
        from gameday.checks import wait_replicas_outside

        wait_replicas_outside(self.kube, app.namespace, app.selector, zone, app.replicas,
                              timeout_s)
        since_fault = time.time() - self._phase_starts["fault"]
        self.evidence.figures["rescheduled_s"] = since_fault
        self.evidence.event("app.rescheduled", f"{app.replicas} replicas ready outside {zone} "
                            f"{since_fault:.1f}s after injection", source="gameday")
        return since_fault

    def spot_nodes(self, count: int, app: Any = None) -> NodeSelector:
        """`count` Ready Spot/preemptible nodes spread over zones (inside the blast radius),
        those running most of `app`'s pods first."""
        from gameday.node_loss import pods_per_node, spread_spot_nodes

        pods = (pods_per_node(self.kube.list_pods(app.namespace, app.selector))
                if app is not None else None)
        protected = self.protected_targets()  # never pick a node the load runs on
        nodes = [n for n in self.kube.list_nodes() if f"node/{n.name}" not in protected]
        return spread_spot_nodes(nodes, count, pods)

    def expect_nodes_replaced(self, timeout_s: float) -> dict[str, float]:
        """Wait until the innermost fault's lost nodes are back (NodePreemption: Ready with a
        new boot id); in GCE mode each VM must have a new instance id. Figures: each milestone
        in seconds since injection (`node_not_ready_s` ... `node_back_s`)."""
        if self.dry_run or not self._faults:
            return {}
        from gameday.node_loss import milestone_figures, replacements

        fault = self._faults[-1]
        seen = fault.wait_recovered(timeout_s)  # type: ignore[attr-defined]
        assert fault.result is not None and fault.result.injected_at is not None
        figures = milestone_figures(seen, fault.result.injected_at)
        self.evidence.figures.update(figures)
        planned = fault.plan().undo.get("nodes", [])
        if self.run.compute is not None and planned and "instance_id" in planned[0]:
            replaced = replacements(self.run.compute, planned)
            self.evidence.figures["instances_recreated"] = sum(r.recreated for r in replaced)
            self.evidence.event("nodes.replaced", ", ".join(
                f"{r.node}: instance {r.old_id} -> {r.new_id}" for r in replaced),
                source="gameday", data={"replacements": replaced})
            stale = [r.node for r in replaced if not r.recreated]
            if stale:
                raise AssertionError(f"node(s) {', '.join(stale)} came back on their old VM: "
                                     "the MIG did not recreate them")
        return figures
