"""Knobs: the usual settings a game day varies, without writing YAML.

Each helper returns a `Knob` that edits the rendered manifests of a `State`, naming a workload
(Deployment, StatefulSet or DaemonSet) by its metadata.name. They exist because the interesting
comparisons are one field apart — replicas, a PodDisruptionBudget, the zone spread's
`whenUnsatisfiable`, the grace period, the readiness probe, the image — and a second copy of a
manifest per state drifts from the first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gameday.adapters.kube_types import ZONE_LABEL
from gameday.errors import UsageError
from gameday.provision.state import Knob

if TYPE_CHECKING:
    from gameday.adapters.kube import KubeAdapter

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")

Docs = list[dict[str, Any]]


def workload(docs: Docs, name: str) -> dict[str, Any]:
    """The one workload document named `name`; UsageError listing the ones there are."""
    found = [d for d in docs if d["kind"] in WORKLOAD_KINDS and d["metadata"]["name"] == name]
    if len(found) != 1:
        there = ", ".join(f"{d['kind']}/{d['metadata']['name']}" for d in docs
                          if d["kind"] in WORKLOAD_KINDS) or "none"
        raise UsageError(f"{'no' if not found else 'more than one'} workload named {name!r} "
                         f"in the state's manifests (workloads: {there})")
    return found[0]


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc.setdefault("spec", {}).setdefault("template", {}).setdefault("spec", {})


def _container(doc: dict[str, Any], name: str | None) -> dict[str, Any]:
    containers = _pod_spec(doc).get("containers") or []
    for c in containers:
        if name is None or c.get("name") == name:
            return c
    which = f" {name!r}" if name else ""
    raise UsageError(f"{doc['kind']}/{doc['metadata']['name']} has no container{which}")


def _match_labels(doc: dict[str, Any]) -> dict[str, str]:
    labels = ((doc.get("spec") or {}).get("selector") or {}).get("matchLabels")
    if not labels:
        raise UsageError(f"{doc['kind']}/{doc['metadata']['name']} has no "
                         "spec.selector.matchLabels to select its pods by")
    return dict(labels)


def replicas(name: str, count: int) -> Knob:
    """spec.replicas of a Deployment or StatefulSet."""
    def knob(docs: Docs, kube: KubeAdapter | None) -> None:
        workload(docs, name).setdefault("spec", {})["replicas"] = count
    return knob


def pdb(name: str, *, min_available: int | str | None = None,
        max_unavailable: int | str | None = None, pdb_name: str | None = None) -> Knob:
    """A PodDisruptionBudget selecting the workload's pods (its spec.selector.matchLabels)."""
    if (min_available is None) == (max_unavailable is None):
        raise UsageError("pdb(): give exactly one of min_available= or max_unavailable=")

    def knob(docs: Docs, kube: KubeAdapter | None) -> None:
        doc = workload(docs, name)
        version = (kube.preferred_version("policy") if kube is not None else None) or "v1"
        spec: dict[str, Any] = {"selector": {"matchLabels": _match_labels(doc)}}
        if min_available is not None:
            spec["minAvailable"] = min_available
        else:
            spec["maxUnavailable"] = max_unavailable
        meta = {"name": pdb_name or name}
        if namespace := doc["metadata"].get("namespace"):
            meta["namespace"] = namespace
        docs.append({"apiVersion": f"policy/{version}", "kind": "PodDisruptionBudget",
                     "metadata": meta, "spec": spec})
    return knob


def spread(name: str, when_unsatisfiable: str | None = "ScheduleAnyway", *,
           max_skew: int = 1, topology_key: str = ZONE_LABEL) -> Knob:
    """One topology spread constraint over zones (None removes the workload's constraints).
    DoNotSchedule strands a lost zone's replicas as Pending on Kubernetes < 1.26
    (kubernetes#116978); ScheduleAnyway reschedules them elsewhere."""
    if when_unsatisfiable not in (None, "ScheduleAnyway", "DoNotSchedule"):
        raise UsageError(f"spread(): when_unsatisfiable must be ScheduleAnyway, DoNotSchedule "
                         f"or None, not {when_unsatisfiable!r}")

    def knob(docs: Docs, kube: KubeAdapter | None) -> None:
        doc = workload(docs, name)
        spec = _pod_spec(doc)
        if when_unsatisfiable is None:
            spec["topologySpreadConstraints"] = []
            return
        spec["topologySpreadConstraints"] = [{
            "maxSkew": max_skew, "topologyKey": topology_key,
            "whenUnsatisfiable": when_unsatisfiable,
            "labelSelector": {"matchLabels": _match_labels(doc)}}]
    return knob


def grace_period(name: str, seconds: int) -> Knob:
    """terminationGracePeriodSeconds of the workload's pods."""
    def knob(docs: Docs, kube: KubeAdapter | None) -> None:
        _pod_spec(workload(docs, name))["terminationGracePeriodSeconds"] = seconds
    return knob


def readiness_probe(name: str, *, path: str = "/readyz", port: int | str = "http",
                    period_s: int = 1, failure_threshold: int = 2, timeout_s: int = 1,
                    initial_delay_s: int = 0, container: str | None = None) -> Knob:
    """An HTTP readiness probe on the workload's container (the first, or `container`)."""
    def knob(docs: Docs, kube: KubeAdapter | None) -> None:
        _container(workload(docs, name), container)["readinessProbe"] = {
            "httpGet": {"path": path, "port": port}, "periodSeconds": period_s,
            "failureThreshold": failure_threshold, "timeoutSeconds": timeout_s,
            "initialDelaySeconds": initial_delay_s, "successThreshold": 1}
    return knob


def image(name: str, ref: str, *, container: str | None = None) -> Knob:
    """The image of the workload's container: the sample manifests with your own build."""
    def knob(docs: Docs, kube: KubeAdapter | None) -> None:
        _container(workload(docs, name), container)["image"] = ref
    return knob
