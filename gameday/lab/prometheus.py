"""The lab's Prometheus: its configuration and its command line (the binary is Debian's 2.42).

Debian's build has no kubernetes_sd, so cluster discovery comes from the lab's own exporter:
pods through `http_sd` on `/sd/pods`, cluster state from its kube-state-metrics style `/metrics`.
Everything else is a static address, plus a `file_sd` folder (`<prometheus_dir>/targets/*.json`)
where the harness drops targets it starts during a run (the Locust exporter), which Prometheus
picks up without a reload. Intervals follow the timing profile: 1 s in `fast`, so an SLO window
of a few seconds holds enough samples; 15 s in `gke`, as a GKE cluster is commonly scraped.

Every series gets Managed Prometheus's labels at scrape (`project_id`, `location`, `cluster`,
and `namespace` for the lab's own components, which have no pod), as relabelling rather than
external labels, which a query would not show: the lab's GMP-shaped endpoint
(gameday/lab/gmp.py) then answers exactly what GMP would, and the harness's `cluster=` matcher
selects them. The load balancer's Cloud Monitoring metrics (`loadbalancing_googleapis_com:...`)
keep only their own labels and `project_id`, as GCLB's series do through GMP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gameday.errors import UsageError
from gameday.lab.profiles import Profile

CONFIG_FILE = "prometheus.yml"
DATA_DIR = "data"
TARGETS_DIR = "targets"
READY_PATH = "/-/ready"  # 200 once the TSDB is open and the first config loaded
MAX_SCRAPE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class PrometheusTargets:
    """Where the lab's components listen (`127.x.y.z:PORT`) and how to reach the apiserver."""

    apiserver: str
    ca_file: Path
    token_file: Path  # a bearer token allowed GET /metrics (group system:monitoring)
    labd: str
    ingress_admin: str
    kubestate: str
    # GMP's prometheus_target labels: project_id, location (the cluster's region), cluster
    gmp_labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("apiserver", "labd", "ingress_admin", "kubestate"):
            address = getattr(self, name)
            host, _, port = address.rpartition(":")
            if not host.startswith("127.") or not port.isdigit():
                raise UsageError(f"Prometheus target {name}={address!r} must be "
                                 "127.x.y.z:PORT: the lab only uses loopback addresses")


def duration(seconds: float) -> str:
    """Seconds as a Prometheus duration: 15 -> "15s", 0.5 -> "500ms"."""
    if seconds <= 0:
        raise UsageError(f"a Prometheus interval must be positive, got {seconds:g}s")
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"


def file_sd_dir(prometheus_dir: Path) -> Path:
    """The folder whose `*.json` target files the `gameday-extra` job reads."""
    return prometheus_dir / TARGETS_DIR


SYSTEM_NAMESPACE = "kube-system"  # the lab's own components run in no pod; GKE's would be here
CLOUD_MONITORING_METRICS = "[a-z0-9_]+_googleapis_com:.*"
TARGET_ONLY = ("cluster", "location", "namespace", "job", "instance")


def _labels(labels: Mapping[str, str]) -> list[dict[str, str]]:
    """relabel_configs that set fixed target labels (source_labels absent: always applies)."""
    return [{"target_label": k, "replacement": v} for k, v in labels.items()]


def _static(job: str, address: str, labels: Mapping[str, str], **extra: Any) -> dict[str, Any]:
    return {"job_name": job, "static_configs": [{"targets": [address]}],
            "relabel_configs": _labels({**labels, "namespace": SYSTEM_NAMESPACE}), **extra}


def _cloud_monitoring_shape() -> list[dict[str, Any]]:
    """metric_relabel_configs: strip target labels from Cloud Monitoring series (a label set
    to "" is removed), since GCLB's series carry their monitored resource's labels only."""
    return [{"source_labels": ["__name__"], "regex": CLOUD_MONITORING_METRICS,
             "target_label": name, "replacement": ""} for name in TARGET_ONLY]


def render_config(profile: Profile, targets: PrometheusTargets,
                  prometheus_dir: Path) -> dict[str, Any]:
    """The configuration as a dict (dump it with `yaml.safe_dump`)."""
    interval = duration(profile.scrape_interval)
    gmp = dict(targets.gmp_labels)
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval,
                   "scrape_timeout": duration(min(profile.scrape_interval,
                                                  MAX_SCRAPE_TIMEOUT_S))},
        "scrape_configs": [
            _static("kube-apiserver", targets.apiserver, gmp, scheme="https",
                    tls_config={"ca_file": str(targets.ca_file)},
                    authorization={"type": "Bearer",
                                   "credentials_file": str(targets.token_file)}),
            _static("gameday-labd", targets.labd, gmp),
            _static("gameday-ingress", targets.ingress_admin, gmp,
                    metric_relabel_configs=_cloud_monitoring_shape()),
            # ksm's own namespace/pod labels describe objects, not the exporter: keep them
            _static("kube-state-metrics", targets.kubestate, gmp, honor_labels=True),
            {"job_name": "pods",  # namespace: the pod's, from the http_sd labels
             "http_sd_configs": [{"url": f"http://{targets.kubestate}/sd/pods",
                                  "refresh_interval": interval}],
             "relabel_configs": _labels(gmp)},
            {"job_name": "gameday-extra",
             "file_sd_configs": [{"files": [str(file_sd_dir(prometheus_dir) / "*.json")],
                                  "refresh_interval": interval}],
             "relabel_configs": _labels(gmp)},
        ],
    }


def write_config(profile: Profile, targets: PrometheusTargets, prometheus_dir: Path) -> Path:
    """Write `<prometheus_dir>/prometheus.yml`, create the file_sd folder; return the path."""
    file_sd_dir(prometheus_dir).mkdir(parents=True, exist_ok=True)
    path = prometheus_dir / CONFIG_FILE
    path.write_text(yaml.safe_dump(render_config(profile, targets, prometheus_dir),
                                   sort_keys=False))
    return path


def prometheus_command(binary: Path, prometheus_dir: Path, listen: str, config_path: Path,
                       retention: str = "1d") -> list[str]:
    """argv for the lab's Prometheus: loopback only, lifecycle API on, short retention.

    `--web.enable-lifecycle` lets `lab down` stop it with POST /-/quit and a config change be
    applied with POST /-/reload; readiness is GET READY_PATH."""
    if not listen.startswith("127."):
        raise UsageError(f"Prometheus listen address {listen!r} must be 127.x.y.z:PORT")
    return [
        str(binary),
        f"--config.file={config_path}",
        f"--storage.tsdb.path={prometheus_dir / DATA_DIR}",
        f"--storage.tsdb.retention.time={retention}",
        f"--web.listen-address={listen}",
        "--web.enable-lifecycle",
        "--log.level=warn",
    ]
