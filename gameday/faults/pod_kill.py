"""Pod kill: delete some pods of a workload, abruptly (grace 0 = SIGKILL) or gracefully.

Nothing in the cluster needs undoing (the ReplicaSet recreates the pods), but the kill is still
recorded in the ledger so the run's history is complete and `recover` reports it. What a game
day usually wants after a kill is "wait until the Deployment is fully available again":
`wait_available` does that, bounded.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gameday.errors import UsageError
from gameday.faults.base import Fault, FaultPlan, FaultResult, Target
from gameday.waiting import wait_for

if TYPE_CHECKING:
    from gameday.adapters.compute import ComputeAdapter
    from gameday.adapters.kube import DeploymentStatus, KubeAdapter, PodInfo


def how_many(total: int, count: int | None, percent: float | None) -> int:
    """Pods to kill: an exact count, or a percentage rounded up (so 1% of 3 kills one)."""
    if (count is None) == (percent is None):
        raise UsageError("give exactly one of count= or percent= for a pod kill")
    if count is not None:
        if count < 1:
            raise UsageError(f"pod kill count must be at least 1, not {count}")
        return min(count, total)
    assert percent is not None
    if not 0 < percent <= 100:
        raise UsageError(f"pod kill percent must be in (0, 100], not {percent:g}")
    return min(total, math.ceil(total * percent / 100))


class PodKill(Fault):
    kind = "pod_kill"

    def __init__(self, target: Target, *, namespace: str, selector: str,
                 count: int | None = None, percent: float | None = None,
                 grace_seconds: int | None = 0) -> None:
        """grace_seconds: 0 = abrupt (SIGKILL, no drain), None = the pod's own grace period."""
        super().__init__(target)
        self.namespace = namespace
        self.selector = selector
        self.count = count
        self.percent = percent
        self.grace_seconds = grace_seconds

    def _victims(self) -> list[PodInfo]:
        pods = [p for p in self.target.kube.list_pods(self.namespace, self.selector)
                if p.phase == "Running" and not p.terminating]
        if not pods:
            raise UsageError(f"no running pod matches {self.selector!r} in namespace "
                             f"{self.namespace!r}: check the label selector and namespace")
        pods.sort(key=lambda p: p.name)
        return pods[: how_many(len(pods), self.count, self.percent)]

    def _make_plan(self) -> FaultPlan:
        victims = self._victims()
        grace = "0 (abrupt)" if self.grace_seconds == 0 else (
            "pod default" if self.grace_seconds is None else f"{self.grace_seconds}s")
        return FaultPlan(
            kind=self.kind, context=self.target.kube.context,
            summary=f"delete {len(victims)} pod(s) matching {self.selector} in "
                    f"{self.namespace}, grace {grace}",
            targets=tuple(f"pod/{p.name} on {p.node} ip {p.ip}" for p in victims),
            calls=tuple(f"DELETE pods/{p.name} gracePeriodSeconds={self.grace_seconds}"
                        for p in victims),
            undo={"namespace": self.namespace, "pods": [p.name for p in victims],
                  "note": "nothing to undo: the ReplicaSet recreates deleted pods"},
        )

    def _apply(self, plan: FaultPlan, result: FaultResult) -> None:
        killed = []
        for name in plan.undo["pods"]:
            existed = self.target.kube.delete_pod(self.namespace, name, self.grace_seconds)
            killed.append({"pod": name, "deleted_at": time.time(), "existed": existed})
            self.emit("pod_deleted", f"deleted pod {name}", pod=name, existed=existed)
        result.data["killed"] = killed

    @classmethod
    def undo(cls, undo: Mapping[str, Any], kube: KubeAdapter,
             compute: ComputeAdapter | None) -> list[str]:
        return [f"pods {', '.join(undo['pods'])}: nothing to undo (recreated by controller)"]

    def wait_available(self, deployment: str, timeout: float,
                       interval: float = 0.5) -> DeploymentStatus:
        """Block until the Deployment is fully available again, with as many Ready pods that
        this kill did not touch; ConditionTimeout otherwise. (Right after an abrupt kill the
        Deployment's status still counts the killed pods as available: it alone would say
        "recovered" before anything was recreated.)"""
        kube = self.target.kube
        killed = {k["pod"] for k in (self.result.data.get("killed", []) if self.result else [])}

        def probe() -> DeploymentStatus | None:
            status = kube.deployment_status(self.namespace, deployment)
            if not status.fully_available:
                return None
            fresh = [p for p in kube.list_pods(self.namespace, self.selector)
                     if p.ready and not p.terminating and p.name not in killed]
            return status if len(fresh) >= status.desired else None

        status = wait_for(f"deployment {self.namespace}/{deployment} fully available", probe,
                          timeout=timeout, interval=interval,
                          describe=lambda: kube.deployment_status(self.namespace, deployment))
        self.emit("available", f"deployment {deployment} fully available again",
                  deployment=deployment)
        return status
