"""Small helpers shared by the lab tests: bounded polling and Kubernetes object builders."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout_s: float, what: str, interval_s: float = 0.2,
               explain: Callable[[], object] | None = None) -> T:
    """Poll until `check` returns something truthy; fail the test naming `what` and last value
    (and what `explain` says of the state then, when the last value alone tells nothing)."""
    deadline = time.monotonic() + timeout_s
    last: T = check()
    while not last:
        if time.monotonic() > deadline:
            why = f"; {explain()}" if explain is not None else ""
            raise AssertionError(
                f"timed out after {timeout_s}s waiting for {what}; last: {last!r}{why}")
        time.sleep(interval_s)
        last = check()
    return last


def deployment(name: str, image: str, replicas: int = 6, spread: bool = True,
               probes: dict | None = None, env: dict[str, str] | None = None,
               grace_s: int = 5) -> dict:
    """A Deployment like the ones game days target: zone-spread replicas with probes."""
    labels = {"app": name}
    container: dict = {
        "name": name, "image": image,
        "ports": [{"name": "http", "containerPort": 8080}],
        "env": [{"name": k, "value": v} for k, v in {"PORT": "8080", **(env or {})}.items()],
        **(probes or {}),
    }
    spec: dict = {"terminationGracePeriodSeconds": grace_s, "containers": [container]}
    if spread:
        spec["topologySpreadConstraints"] = [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": labels}}]
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": spec}},
    }
