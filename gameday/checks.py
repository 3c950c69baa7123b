"""Expectations about the application under test, checked against the cluster with bounded
waits: is the app available before a scenario starts, did its replicas come back elsewhere.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from gameday.adapters.kube import DeploymentStatus, KubeNotFound
from gameday.errors import UsageError
from gameday.waiting import wait_for

if TYPE_CHECKING:
    from gameday.adapters.kube import KubeAdapter


def ensure_available(kube: KubeAdapter, namespace: str, name: str, timeout_s: float
                     ) -> DeploymentStatus:
    """Wait until the Deployment is fully rolled out and available; clear error if absent."""
    try:
        kube.deployment_status(namespace, name)
    except KubeNotFound:
        raise UsageError(f"no Deployment {namespace}/{name} on context {kube.context}: deploy "
                         "the app first, or point the scenario at yours with --gameday-set "
                         "app_namespace=NS --gameday-set app_deployment=NAME") from None

    def probe() -> DeploymentStatus | None:
        status = kube.deployment_status(namespace, name)
        return status if status.fully_available else None

    return wait_for(f"Deployment {namespace}/{name} to be fully available", probe,
                    timeout=timeout_s, describe=lambda: kube.deployment_status(namespace, name))


def ready_replicas_outside(kube: KubeAdapter, namespace: str, selector: str, zone: str) -> int:
    """Ready, non-terminating pods of the app on nodes outside `zone`."""
    zones = {n.name: n.zone for n in kube.list_nodes()}
    return sum(1 for p in kube.list_pods(namespace, selector)
               if p.ready and not p.terminating and p.node and zones.get(p.node) != zone)


def wait_replicas_outside(kube: KubeAdapter, namespace: str, selector: str, zone: str,
                          replicas: int, timeout_s: float) -> float:
    """Wait until `replicas` ready pods run outside `zone`; returns the seconds it took."""
    t0 = time.monotonic()
    wait_for(f"{replicas} ready replicas of {namespace}/{selector} outside zone {zone}",
             lambda: True if ready_replicas_outside(kube, namespace, selector, zone)
             >= replicas else None, timeout=timeout_s,
             describe=lambda: f"{ready_replicas_outside(kube, namespace, selector, zone)} ready")
    return time.monotonic() - t0
