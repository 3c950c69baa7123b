"""Cluster state as kube-state-metrics series: same names, labels and value conventions.

The harness's PromQL must run unchanged against a GKE cluster with kube-state-metrics (v2), so
every family here mirrors ksm's: conditions as one series per status (`true`/`false`/`unknown`,
the matching one 1), pod phase as one series per phase, Kubernetes labels as `label_<name>` with
every character outside [a-zA-Z0-9_] replaced by `_`, `<none>` for a pod without a controller.
Objects are the API's JSON as plain dicts (camelCase), exactly what the watch cache holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from gameday.lab.kubestate.exposition import Family

Obj = dict[str, Any]

CONDITION_STATUSES = ("true", "false", "unknown")
POD_PHASES = ("Pending", "Succeeded", "Failed", "Unknown", "Running")
_INVALID_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")


def label_name(kube_label: str) -> str:
    """`topology.kubernetes.io/zone` -> `label_topology_kubernetes_io_zone`, as ksm does."""
    return "label_" + _INVALID_LABEL_CHARS.sub("_", kube_label)


def timestamp(rfc3339: str | None) -> float | None:
    """API time (`2024-01-02T03:04:05Z`) as Unix seconds; None stays None."""
    if not rfc3339:
        return None
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def _conditions(family: Family, base: dict[str, str], label: str, status: str | None) -> None:
    current = (status or "unknown").lower()
    for value in CONDITION_STATUSES:
        family.add({**base, label: value}, 1 if value == current else 0)


def node_families(nodes: Iterable[Obj]) -> list[Family]:
    info = Family("kube_node_info", "gauge", "Information about a cluster node.")
    labels = Family("kube_node_labels", "gauge", "Kubernetes labels converted to Prometheus "
                    "labels.")
    created = Family("kube_node_created", "gauge", "Unix creation timestamp")
    unschedulable = Family("kube_node_spec_unschedulable", "gauge",
                           "Whether a node can schedule new pods.")
    taints = Family("kube_node_spec_taint", "gauge", "The taint of a cluster node.")
    conditions = Family("kube_node_status_condition", "gauge",
                        "The condition of a cluster node.")
    for node in nodes:
        meta, spec, status = node["metadata"], node.get("spec", {}), node.get("status", {})
        name = meta["name"]
        node_info = status.get("nodeInfo", {})
        addresses = {a["type"]: a["address"] for a in status.get("addresses", [])}
        info.add({"node": name, "kernel_version": node_info.get("kernelVersion", ""),
                  "os_image": node_info.get("osImage", ""),
                  "container_runtime_version": node_info.get("containerRuntimeVersion", ""),
                  "kubelet_version": node_info.get("kubeletVersion", ""),
                  "kubeproxy_version": node_info.get("kubeProxyVersion", ""),
                  "provider_id": spec.get("providerID", ""), "pod_cidr": spec.get("podCIDR", ""),
                  "system_uuid": node_info.get("systemUUID", ""),
                  "internal_ip": addresses.get("InternalIP", "")}, 1)
        kube_labels = meta.get("labels") or {}
        labels.add({"node": name, **{label_name(k): v for k, v in sorted(kube_labels.items())}},
                   1)
        if (ts := timestamp(meta.get("creationTimestamp"))) is not None:
            created.add({"node": name}, ts)
        unschedulable.add({"node": name}, 1 if spec.get("unschedulable") else 0)
        for taint in spec.get("taints") or []:
            taints.add({"node": name, "key": taint["key"], "value": taint.get("value", ""),
                        "effect": taint.get("effect", "")}, 1)
        for cond in status.get("conditions") or []:
            _conditions(conditions, {"node": name, "condition": cond["type"]}, "status",
                        cond.get("status"))
    return [info, labels, created, unschedulable, taints, conditions]


def _controller(meta: Obj) -> tuple[str, str]:
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller"):
            return ref["kind"], ref["name"]
    return "<none>", "<none>"


def pod_families(pods: Iterable[Obj]) -> list[Family]:
    info = Family("kube_pod_info", "gauge", "Information about pod.")
    created = Family("kube_pod_created", "gauge", "Unix creation timestamp")
    deleted = Family("kube_pod_deletion_timestamp", "gauge",
                     "Unix deletion timestamp")
    phase = Family("kube_pod_status_phase", "gauge", "The pods current phase.")
    ready = Family("kube_pod_status_ready", "gauge", "Describes whether the pod is ready to "
                   "serve requests.")
    restarts = Family("kube_pod_container_status_restarts_total", "counter",
                      "The number of container restarts per container.")
    container_ready = Family("kube_pod_container_status_ready", "gauge",
                             "Describes whether the containers readiness check succeeded.")
    for pod in pods:
        meta, spec, status = pod["metadata"], pod.get("spec", {}), pod.get("status", {})
        base = {"namespace": meta["namespace"], "pod": meta["name"], "uid": meta["uid"]}
        kind, owner = _controller(meta)
        info.add({**base, "host_ip": status.get("hostIP", ""), "pod_ip": status.get("podIP", ""),
                  "node": spec.get("nodeName", ""), "created_by_kind": kind,
                  "created_by_name": owner, "priority_class": spec.get("priorityClassName", ""),
                  "host_network": "true" if spec.get("hostNetwork") else "false"}, 1)
        if (ts := timestamp(meta.get("creationTimestamp"))) is not None:
            created.add(base, ts)
        if (ts := timestamp(meta.get("deletionTimestamp"))) is not None:
            deleted.add(base, ts)
        current = status.get("phase")
        if current:
            for p in POD_PHASES:
                phase.add({**base, "phase": p}, 1 if p == current else 0)
        for cond in status.get("conditions") or []:
            if cond["type"] == "Ready":
                _conditions(ready, base, "condition", cond.get("status"))
        for cs in status.get("containerStatuses") or []:
            labels = {**base, "container": cs["name"]}
            restarts.add(labels, cs.get("restartCount", 0))
            container_ready.add(labels, 1 if cs.get("ready") else 0)
    return [info, created, deleted, phase, ready, restarts, container_ready]


# family suffix -> where the value is in a Deployment (spec/status field), ksm's names
_DEPLOYMENT_FIELDS = (
    ("spec_replicas", "spec", "replicas", "Number of desired pods for a deployment."),
    ("status_replicas", "status", "replicas", "The number of replicas per deployment."),
    ("status_replicas_ready", "status", "readyReplicas",
     "The number of ready replicas per deployment."),
    ("status_replicas_available", "status", "availableReplicas",
     "The number of available replicas per deployment."),
    ("status_replicas_unavailable", "status", "unavailableReplicas",
     "The number of unavailable replicas per deployment."),
    ("status_replicas_updated", "status", "updatedReplicas",
     "The number of updated replicas per deployment."),
    ("status_observed_generation", "status", "observedGeneration",
     "The generation observed by the deployment controller."),
)


def deployment_families(deployments: Iterable[Obj]) -> list[Family]:
    families = [Family(f"kube_deployment_{suffix}", "gauge", help_)
                for suffix, _, _, help_ in _DEPLOYMENT_FIELDS]
    generation = Family("kube_deployment_metadata_generation", "gauge",
                        "Sequence number representing a specific generation of the desired "
                        "state.")
    for dep in deployments:
        meta = dep["metadata"]
        base = {"namespace": meta["namespace"], "deployment": meta["name"]}
        for family, (_, section, key, _) in zip(families, _DEPLOYMENT_FIELDS, strict=True):
            # the API omits zero counts; ksm reports them as 0 (spec.replicas defaults to 1)
            default = 1 if key == "replicas" and section == "spec" else 0
            family.add(base, (dep.get(section) or {}).get(key, default))
        generation.add(base, meta.get("generation", 0))
    return [*families, generation]


def cluster_families(nodes: Iterable[Obj], pods: Iterable[Obj],
                     deployments: Iterable[Obj]) -> list[Family]:
    """Every family the exporter serves, in a stable order."""
    return [*node_families(nodes), *pod_families(pods), *deployment_families(deployments)]
