"""Ingress health-check lag: backends die while the load balancer still routes to them.

Two knobs, usable together:
- `kill`: delete backend pods with grace 0 (SIGKILL, no drain, no chance to fail readiness
  first): the LB keeps sending to them until its health check notices
  (unhealthyThreshold x checkInterval (+ timeout)).
- `health_check`: patch the Service's BackendConfig `spec.healthCheck` (e.g. a longer
  `checkIntervalSec`) to make that window longer; the old spec is in the ledger and revert
  restores it exactly (a field that was absent is removed again).

The measurement (backend death to the last request routed to it) is the SLO side's: this fault
returns what it needs in `result.data["killed"]`: each pod's name, IP and kill time (wall
clock), to match against `gameday_lb_requests_total{backend="IP:PORT"}`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gameday.errors import UsageError
from gameday.faults.base import Fault, FaultPlan, FaultResult, Target
from gameday.faults.pod_kill import how_many

if TYPE_CHECKING:
    from gameday.adapters.compute import ComputeAdapter
    from gameday.adapters.kube import KubeAdapter

BACKEND_CONFIG_ANNOTATIONS = ("cloud.google.com/backend-config",
                              "beta.cloud.google.com/backend-config")


def backend_config_name(annotations: Mapping[str, str], port: str | None) -> str | None:
    """The BackendConfig a Service uses, from its annotation: `{"default": NAME}` or
    `{"ports": {"PORT": NAME}}` (a port entry wins over the default)."""
    for key in BACKEND_CONFIG_ANNOTATIONS:
        if key in annotations:
            try:
                doc = json.loads(annotations[key])
            except ValueError as exc:
                raise UsageError(f"Service annotation {key} is not JSON: {exc}") from exc
            by_port = doc.get("ports") or {}
            if port is not None and port in by_port:
                return str(by_port[port])
            return doc.get("default")
    return None


class HealthcheckLag(Fault):
    kind = "healthcheck_lag"

    def __init__(self, target: Target, *, namespace: str, service: str | None = None,
                 selector: str | None = None, kill_count: int | None = None,
                 kill_percent: float | None = None, health_check: Mapping[str, Any] | None = None,
                 port: str | None = None) -> None:
        """selector + kill_count/kill_percent: which backend pods to SIGKILL (optional).
        service + health_check: BackendConfig healthCheck fields to set (optional)."""
        super().__init__(target)
        if selector is None and health_check is None:
            raise UsageError("healthcheck_lag needs pods to kill (selector=...) and/or a "
                             "health_check patch (service=..., health_check={...})")
        if health_check is not None and service is None:
            raise UsageError("health_check needs service=: the BackendConfig is found through "
                             "the Service's cloud.google.com/backend-config annotation")
        self.namespace = namespace
        self.service = service
        self.selector = selector
        self.kill_count = kill_count
        self.kill_percent = kill_percent
        self.health_check = dict(health_check) if health_check is not None else None
        self.port = port

    def _make_plan(self) -> FaultPlan:
        kube = self.target.kube
        undo: dict[str, Any] = {"namespace": self.namespace}
        targets: list[str] = []
        calls: list[str] = []
        if self.health_check is not None:
            assert self.service is not None
            name = backend_config_name(kube.service_annotations(self.namespace, self.service),
                                       self.port)
            if name is None:
                raise UsageError(f"Service {self.namespace}/{self.service} has no "
                                 "cloud.google.com/backend-config annotation: add one, or "
                                 "drop health_check=")
            old = kube.get_backend_config_spec(self.namespace, name).get("healthCheck")
            undo["backend_config"] = {"name": name, "old_health_check": old}
            targets.append(f"backendconfig/{name} healthCheck {old} -> {self.health_check}")
            calls.append(f"PATCH backendconfigs/{name} spec.healthCheck={self.health_check}")
        if self.selector is not None:
            pods = sorted((p for p in kube.list_pods(self.namespace, self.selector)
                           if p.phase == "Running" and not p.terminating and p.ip),
                          key=lambda p: p.name)
            if not pods:
                raise UsageError(f"no running backend pod matches {self.selector!r} in "
                                 f"{self.namespace}")
            count, percent = self.kill_count, self.kill_percent
            if count is None and percent is None:
                count = 1
            victims = pods[: how_many(len(pods), count, percent)]
            undo["pods"] = [{"name": p.name, "ip": p.ip, "node": p.node} for p in victims]
            targets += [f"pod/{p.name} ip {p.ip}" for p in victims]
            calls += [f"DELETE pods/{p.name} gracePeriodSeconds=0" for p in victims]
        return FaultPlan(kind=self.kind, context=kube.context,
                         summary=f"backends die under the LB in {self.namespace}",
                         targets=tuple(targets), calls=tuple(calls), undo=undo)

    def _apply(self, plan: FaultPlan, result: FaultResult) -> None:
        kube = self.target.kube
        bc = plan.undo.get("backend_config")
        if bc is not None:
            kube.patch_backend_config_health_check(self.namespace, bc["name"],
                                                   {**(bc["old_health_check"] or {}),
                                                    **(self.health_check or {})})
            result.data["health_check_patched_at"] = time.time()
            self.emit("health_check", f"BackendConfig {bc['name']} healthCheck patched",
                      new=self.health_check, old=bc["old_health_check"])
        killed = []
        for pod in plan.undo.get("pods", []):
            kube.delete_pod(self.namespace, pod["name"], grace_seconds=0)
            killed.append({**pod, "killed_at": time.time()})
            self.emit("backend_killed", f"SIGKILLed backend {pod['name']} ({pod['ip']})",
                      pod=pod["name"], ip=pod["ip"])
        result.data["killed"] = killed

    @classmethod
    def undo(cls, undo: Mapping[str, Any], kube: KubeAdapter,
             compute: ComputeAdapter | None) -> list[str]:
        done = [f"pod/{p['name']}: nothing to undo (recreated by its controller)"
                for p in undo.get("pods", [])]
        bc = undo.get("backend_config")
        if bc is not None:
            kube.patch_backend_config_health_check(undo["namespace"], bc["name"],
                                                   bc["old_health_check"])
            done.append(f"restored backendconfig/{bc['name']} healthCheck to "
                        f"{bc['old_health_check']}")
        return done
