"""The Kubernetes objects of an in-cluster load run: one ConfigMap, a master pod, N worker pods,
and the object that tells the cluster's Prometheus to scrape the workers.

Plain pods, not a Deployment or Job: a load run is a few minutes long and owned by one
harness process, which must know exactly which processes exist (a worker lost is a finding,
and a controller would quietly replace it). `restartPolicy: Never` for the same reason, and
`activeDeadlineSeconds` so the kubelet itself ends the run if everything else failed.

Workers connect to the master's pod IP, not to a Service: nothing to create or resolve, and a
Service would add a kube-proxy hop that a zone fault could break on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gameday.load.bundle import MOUNT_PATH, Bundle
from gameday.load.wrapper import ADDR_ENV, DEADLINE_ENV, LEASE_S_ENV, PORT_ENV, RUN_ENV

NAMESPACE = "gameday"
MASTER_PORT = 5557  # Locust also uses the next one
WEB_PORT = 8089
METRICS_PORT = 9646
APP = "gameday-load"
RUN_LABEL = "gameday.dev/load-run"
ROLE_LABEL = "gameday.dev/load-role"
ZONE_LABEL = "topology.kubernetes.io/zone"
# how the cluster's Prometheus learns about the workers, by the CRD that exists
MONITORS = ("annotations", "podmonitoring", "podmonitor")
MONITOR_APIS = {"podmonitoring": ("monitoring.googleapis.com", "podmonitorings", "PodMonitoring"),
                "podmonitor": ("monitoring.coreos.com", "podmonitors", "PodMonitor")}

Obj = dict[str, Any]


@dataclass(frozen=True)
class Placement:
    """Where and how the load pods run (from the settings and the scenario)."""

    image: str
    workers: int = 1
    node_selector: dict[str, str] = field(default_factory=dict)
    avoid_zones: tuple[str, ...] = ()
    monitor: str = "annotations"
    namespace: str = NAMESPACE


@dataclass(frozen=True)
class Names:
    """Every object name of one run, derived from its id (recover needs nothing else)."""

    run_id: str

    @property
    def configmap(self) -> str:
        return f"{APP}-{self.run_id}"

    @property
    def master(self) -> str:
        return f"{APP}-{self.run_id}-master"

    def worker(self, index: int) -> str:
        return f"{APP}-{self.run_id}-worker-{index}"

    @property
    def selector(self) -> str:
        return f"{RUN_LABEL}={self.run_id}"


def configmap(names: Names, namespace: str, bundle: Bundle) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": names.configmap, "namespace": namespace,
                         "labels": {"app": APP, RUN_LABEL: names.run_id}},
            "data": bundle.data}


def master_pod(names: Names, placement: Placement, bundle: Bundle, args: list[str],
               deadline: float, active_s: int, lease_s: float) -> Obj:
    """The master runs the web API the harness drives (through the apiserver's pod proxy)."""
    return _pod(names.master, "master", names, placement, bundle, deadline, active_s, [
        "-f", bundle.entry_path, "--master", "--master-bind-host=$(POD_IP)",
        f"--master-bind-port={MASTER_PORT}", "--web-host=$(POD_IP)", f"--web-port={WEB_PORT}",
        *args], {LEASE_S_ENV: f"{lease_s:g}"}, scraped=False)


def worker_pod(index: int, names: Names, placement: Placement, bundle: Bundle,
               master_ip: str, args: list[str], deadline: float, active_s: int) -> Obj:
    """A worker sends the requests and serves their client-side metrics."""
    return _pod(names.worker(index), "worker", names, placement, bundle, deadline, active_s, [
        "-f", bundle.entry_path, "--worker", f"--master-host={master_ip}",
        f"--master-port={MASTER_PORT}", *args],
        {ADDR_ENV: "$(POD_IP)", PORT_ENV: str(METRICS_PORT)}, scraped=True)


def _pod(name: str, role: str, names: Names, placement: Placement, bundle: Bundle,
         deadline: float, active_s: int, args: list[str], env: dict[str, str],
         scraped: bool) -> Obj:
    annotations = ({"prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS_PORT),
                    "prometheus.io/path": "/metrics"} if scraped and placement.monitor ==
                   "annotations" else {})
    spec: Obj = {
        "restartPolicy": "Never", "activeDeadlineSeconds": active_s,
        "terminationGracePeriodSeconds": 10, "enableServiceLinks": False,
        "containers": [{
            "name": "locust", "image": placement.image, "args": args,
            "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": RUN_ENV, "value": names.run_id},
                    {"name": DEADLINE_ENV, "value": f"{deadline:.3f}"},
                    *({"name": k, "value": v} for k, v in env.items())],
            "ports": [{"name": "web", "containerPort": WEB_PORT},
                      {"name": "metrics", "containerPort": METRICS_PORT},
                      {"name": "master", "containerPort": MASTER_PORT}],
            "volumeMounts": [{"name": "gameday", "mountPath": MOUNT_PATH, "readOnly": True}],
            "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}},
        }],
        "volumes": [{"name": "gameday", "configMap": {"name": names.configmap,
                                                      "items": bundle.items}}],
    }
    if placement.node_selector:
        spec["nodeSelector"] = dict(placement.node_selector)
    if placement.avoid_zones:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{
                "key": ZONE_LABEL, "operator": "NotIn",
                "values": sorted(placement.avoid_zones)}]}]}}}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": placement.namespace,
                         "labels": {"app": APP, RUN_LABEL: names.run_id, ROLE_LABEL: role},
                         "annotations": annotations},
            "spec": spec}


def monitor(names: Names, placement: Placement, version: str, interval_s: float) -> Obj | None:
    """A PodMonitoring (Managed Prometheus) or PodMonitor (prometheus-operator) selecting this
    run's workers; None for the annotation convention (the annotations are on the pods)."""
    if placement.monitor == "annotations":
        return None
    group, _plural, kind = MONITOR_APIS[placement.monitor]
    selector = {"matchLabels": {RUN_LABEL: names.run_id, ROLE_LABEL: "worker"}}
    endpoint = {"port": "metrics", "path": "/metrics", "interval": f"{max(1, round(interval_s))}s"}
    spec: Obj = ({"selector": selector, "endpoints": [endpoint]} if kind == "PodMonitoring"
                 else {"selector": selector, "podMetricsEndpoints": [endpoint]})
    return {"apiVersion": f"{group}/{version}", "kind": kind,
            "metadata": {"name": names.configmap, "namespace": placement.namespace,
                         "labels": {"app": APP, RUN_LABEL: names.run_id}},
            "spec": spec}
