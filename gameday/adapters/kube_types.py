"""What the Kubernetes adapter returns: small frozen dataclasses built from API JSON.

Kept apart from `kube.py` (the client calls) so the faults and checks can type against them
without reading the transport, and so neither module outgrows one screenful of concepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ZONE_LABEL = "topology.kubernetes.io/zone"
LEGACY_ZONE_LABEL = "failure-domain.beta.kubernetes.io/zone"
POOL_LABEL = "cloud.google.com/gke-nodepool"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


@dataclass(frozen=True)
class Taint:
    key: str
    effect: str  # NoSchedule, PreferNoSchedule or NoExecute
    value: str = ""

    def as_dict(self) -> dict[str, str]:
        out = {"key": self.key, "effect": self.effect}
        if self.value:
            out["value"] = self.value
        return out


@dataclass(frozen=True)
class NodeInfo:
    """What the faults need of a Node; `boot_id` changes when the machine is recreated."""

    name: str
    uid: str
    zone: str | None
    pool: str | None
    ready: bool
    unschedulable: bool
    provider_id: str | None
    boot_id: str | None
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()


@dataclass(frozen=True)
class PodInfo:
    name: str
    namespace: str
    uid: str
    node: str | None
    ip: str | None
    phase: str
    ready: bool
    owner_kind: str | None
    mirror: bool
    terminating: bool
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """Succeeded or Failed: the pod holds no replica any more, yet it stays listed (a pod a
        GKE graceful node shutdown ended stays behind as Failed until pod GC removes it)."""
        return self.phase in ("Succeeded", "Failed")


@dataclass(frozen=True)
class LeaseInfo:
    """A coordination.k8s.io Lease: who holds it, and the version to delete it safely."""

    name: str
    holder: str
    annotations: Mapping[str, str]
    resource_version: str


@dataclass(frozen=True)
class DeploymentStatus:
    name: str
    desired: int
    updated: int
    ready: int
    available: int
    generation_observed: bool
    selector: str = ""  # its pods, as a labelSelector query (from spec.selector)

    @property
    def fully_available(self) -> bool:
        """Rolled out and every desired replica available, as `kubectl rollout status` means."""
        return (self.generation_observed and self.updated >= self.desired
                and self.available >= self.desired and self.ready >= self.desired)


def label_selector(selector: Mapping[str, Any]) -> str:
    """A LabelSelector object (a Deployment's `spec.selector`) as the `labelSelector` query
    string the apiserver takes: the app's own labels, whatever they are named."""
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        terms.append({"In": f"{key} in ({','.join(values)})",
                      "NotIn": f"{key} notin ({','.join(values)})",
                      "Exists": key, "DoesNotExist": f"!{key}"}[op])
    return ",".join(terms)


def node_info(obj: Mapping[str, Any]) -> NodeInfo:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    labels = meta.get("labels") or {}
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    taints = tuple(Taint(t["key"], t["effect"], t.get("value", "") or "")
                   for t in spec.get("taints") or [])
    return NodeInfo(
        name=meta["name"], uid=meta["uid"],
        zone=labels.get(ZONE_LABEL) or labels.get(LEGACY_ZONE_LABEL),
        pool=labels.get(POOL_LABEL), ready=conditions.get("Ready") == "True",
        unschedulable=bool(spec.get("unschedulable")), provider_id=spec.get("providerID"),
        boot_id=(status.get("nodeInfo") or {}).get("bootID") or None,
        labels=dict(labels), taints=taints,
    )


def pod_info(obj: Mapping[str, Any]) -> PodInfo:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    owners = meta.get("ownerReferences") or []
    controller = next((o for o in owners if o.get("controller")), None)
    return PodInfo(
        name=meta["name"], namespace=meta["namespace"], uid=meta["uid"],
        node=spec.get("nodeName"), ip=status.get("podIP"), phase=status.get("phase", "Unknown"),
        ready=conditions.get("Ready") == "True",
        owner_kind=controller["kind"] if controller else None,
        mirror=MIRROR_ANNOTATION in (meta.get("annotations") or {}),
        terminating=meta.get("deletionTimestamp") is not None,
        labels=dict(meta.get("labels") or {}),
    )


@dataclass(frozen=True)
class ClusterEvent:
    """A core/v1 Event, for the game day's timeline (never for a verdict: events can be lost)."""

    uid: str
    count: int
    last_seen: str  # RFC 3339
    type: str  # Normal or Warning
    reason: str
    object: str  # kind/namespace/name
    message: str


def event_info(obj: Mapping[str, Any]) -> ClusterEvent:
    ref = obj.get("involvedObject") or {}
    where = "/".join(p for p in (ref.get("kind", ""), ref.get("namespace", ""),
                                 ref.get("name", "")) if p)
    return ClusterEvent(
        uid=obj["metadata"]["uid"], count=obj.get("count") or 1,
        last_seen=obj.get("lastTimestamp") or obj.get("eventTime")
        or obj["metadata"].get("creationTimestamp", ""),
        type=obj.get("type", "Normal"), reason=obj.get("reason", ""), object=where,
        message=obj.get("message", ""))
