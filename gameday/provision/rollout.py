"""Wait until every provisioned workload is rolled out and Ready, bounded, naming what is not.

Why not only the Deployment's `availableReplicas`: right after an apply the status still
describes the previous generation, and old pods still count as available while new ones start.
Rolled out means what `kubectl rollout status` means: the controller has seen this generation,
every replica is updated and ready, and no old replica is left. When the wait times out, the
error lists each workload still short and why its pods are not ready (Pending: Unschedulable:
"0/6 nodes are available...", ImagePullBackOff, failing readiness), which is what a user fixes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gameday.adapters.kube_objects import KubeObjects, ObjectRef
from gameday.adapters.kube_types import label_selector
from gameday.errors import ConditionTimeout
from gameday.provision.knobs import WORKLOAD_KINDS
from gameday.waiting import wait_for


def shortfall(live: Mapping[str, Any] | None) -> str | None:
    """Why this workload is not rolled out yet (None: it is)."""
    if live is None:
        return "not found"
    kind, spec, status = live["kind"], live.get("spec") or {}, live.get("status") or {}
    if status.get("observedGeneration", 0) < live["metadata"].get("generation", 0):
        return "its controller has not seen the new generation yet"
    if kind == "DaemonSet":
        want = int(status.get("desiredNumberScheduled", 0))
        have = {"ready": status.get("numberReady", 0),
                "updated": status.get("updatedNumberScheduled", 0)}
    else:
        want = int(spec.get("replicas", 1))
        have = {"ready": status.get("readyReplicas", 0),
                "updated": status.get("updatedReplicas", 0)}
        if kind == "Deployment":
            have["available"] = status.get("availableReplicas", 0)
            if int(status.get("replicas", 0)) > want:
                return f"{int(status['replicas']) - want} old replica(s) still running"
        if kind == "StatefulSet" and status.get("currentRevision") != status.get(
                "updateRevision"):
            return "update still rolling"
    short = [f"{int(n)}/{want} {what}" for what, n in have.items() if int(n or 0) < want]
    return ", ".join(short) or None


def pod_problems(objects: KubeObjects, namespace: str, selector: Mapping[str, Any],
                 limit: int = 3) -> list[str]:
    """Why the workload's pods are not ready, one line per pod (at most `limit`)."""
    query = {"labelSelector": label_selector(selector)}
    pods = objects.kube.request("GET", f"/api/v1/namespaces/{namespace}/pods",
                                query=query)["items"]
    out = []
    for pod in pods:
        status = pod.get("status") or {}
        conditions = {c["type"]: c for c in status.get("conditions") or []}
        if (conditions.get("Ready") or {}).get("status") == "True":
            continue
        why = status.get("phase", "Unknown")
        scheduled = conditions.get("PodScheduled") or {}
        if scheduled.get("status") == "False":
            why += f": {scheduled.get('reason', '')} {scheduled.get('message', '')}".rstrip()
        for cs in status.get("containerStatuses") or []:
            waiting = (cs.get("state") or {}).get("waiting")
            if waiting:
                why += f": {cs['name']} {waiting.get('reason', 'waiting')}"
        out.append(f"pod {pod['metadata']['name']} {why}")
    return out[:limit] + ([f"... and {len(out) - limit} more"] if len(out) > limit else [])


def wait_rolled_out(objects: KubeObjects, refs: Iterable[ObjectRef], timeout_s: float) -> None:
    """Block until every workload of `refs` is rolled out; ConditionTimeout naming each that is
    not and why its pods are not ready."""
    workloads = [r for r in refs if r.kind in WORKLOAD_KINDS]

    def pending() -> list[tuple[ObjectRef, str, Mapping[str, Any] | None]]:
        out = []
        for ref in workloads:
            live = objects.get(ref)
            if (why := shortfall(live)) is not None:
                out.append((ref, why, live))
        return out

    def describe() -> str:
        lines = []
        for ref, why, live in pending():
            lines.append(f"{ref}: {why}")
            selector = ((live or {}).get("spec") or {}).get("selector")
            if selector:
                lines += [f"  {p}" for p in pod_problems(objects, ref.namespace, selector)]
        return "\n" + "\n".join(lines) if lines else "all rolled out"

    names = ", ".join(str(r) for r in workloads)
    try:
        wait_for(f"{names} to roll out and be Ready", lambda: True if not pending() else None,
                 timeout=timeout_s, interval=1.0, describe=describe)
    except ConditionTimeout as exc:
        exc.add_note("raise the bound with provision(timeout_s=...) if the cluster is only slow")
        raise
