"""Prometheus http_sd targets for annotated pods: what kubernetes_sd + relabelling would give.

Debian's Prometheus is built without kubernetes_sd, so the exporter serves the pods itself, already
relabelled the way the common `prometheus.io/*` annotation convention does on GKE: only pods
annotated `prometheus.io/scrape: "true"` that have an IP and are not finished; address
`podIP:<prometheus.io/port>`; `__metrics_path__` and `__scheme__` from the annotations; and plain
labels (namespace, pod, node, zone, app) instead of `__meta_kubernetes_*`, so queries written for
the lab read like queries written for a relabelled GKE scrape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Obj = dict[str, Any]

ZONE_LABEL = "topology.kubernetes.io/zone"
APP_LABELS = ("app", "app.kubernetes.io/name", "k8s-app")
FINISHED_PHASES = ("Succeeded", "Failed")


def _port(pod: Obj, annotations: Mapping[str, str]) -> str | None:
    """The annotated port, else the first declared container port, else none (not scraped)."""
    if port := annotations.get("prometheus.io/port"):
        return port
    for container in pod.get("spec", {}).get("containers", []):
        for p in container.get("ports") or []:
            return str(p["containerPort"])
    return None


def pod_target(pod: Obj, node_zones: Mapping[str, str]) -> dict[str, Any] | None:
    """The http_sd entry for one pod, or None when it must not be scraped."""
    meta, status = pod["metadata"], pod.get("status", {})
    annotations = meta.get("annotations") or {}
    if annotations.get("prometheus.io/scrape") != "true":
        return None
    ip, port = status.get("podIP"), _port(pod, annotations)
    if not ip or port is None or status.get("phase") in FINISHED_PHASES:
        return None
    node = pod.get("spec", {}).get("nodeName", "")
    kube_labels = meta.get("labels") or {}
    app = next((kube_labels[k] for k in APP_LABELS if k in kube_labels), "")
    labels = {"namespace": meta["namespace"], "pod": meta["name"], "node": node,
              "zone": node_zones.get(node, ""), "app": app,
              "__metrics_path__": annotations.get("prometheus.io/path", "/metrics"),
              "__scheme__": annotations.get("prometheus.io/scheme", "http")}
    return {"targets": [f"{ip}:{port}"], "labels": {k: v for k, v in labels.items() if v}}


def node_zones(nodes: Iterable[Obj]) -> dict[str, str]:
    """node name -> zone label, for pods' `zone`."""
    return {n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get(ZONE_LABEL, "")
            for n in nodes}


def pod_targets(pods: Iterable[Obj], nodes: Iterable[Obj]) -> list[dict[str, Any]]:
    """The whole http_sd document (a JSON list), sorted by target for stable diffs."""
    zones = node_zones(nodes)
    targets = [t for pod in pods if (t := pod_target(pod, zones)) is not None]
    return sorted(targets, key=lambda t: t["targets"][0])
