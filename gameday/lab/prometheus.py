"""The lab's Prometheus: its configuration and its command line (the binary is Debian's 2.42).

Debian's build has no kubernetes_sd, so cluster discovery comes from the lab's own exporter:
pods through `http_sd` on `/sd/pods`, cluster state from its kube-state-metrics style `/metrics`.
Everything else is a static address, plus a `file_sd` folder (`<prometheus_dir>/targets/*.json`)
where the harness drops targets it starts during a run (the Locust exporter), which Prometheus
picks up without a reload. Intervals follow the timing profile: 1 s in `fast`, so an SLO window
of a few seconds holds enough samples; 15 s in `gke`, as a GKE cluster is commonly scraped.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def _static(job: str, address: str, **extra: Any) -> dict[str, Any]:
    return {"job_name": job, "static_configs": [{"targets": [address]}], **extra}


def render_config(profile: Profile, targets: PrometheusTargets,
                  prometheus_dir: Path) -> dict[str, Any]:
    """The configuration as a dict (dump it with `yaml.safe_dump`)."""
    interval = duration(profile.scrape_interval)
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval,
                   "scrape_timeout": duration(min(profile.scrape_interval,
                                                  MAX_SCRAPE_TIMEOUT_S))},
        "scrape_configs": [
            _static("kube-apiserver", targets.apiserver, scheme="https",
                    tls_config={"ca_file": str(targets.ca_file)},
                    authorization={"type": "Bearer",
                                   "credentials_file": str(targets.token_file)}),
            _static("gameday-labd", targets.labd),
            _static("gameday-ingress", targets.ingress_admin),
            # ksm's own namespace/pod labels describe objects, not the exporter: keep them
            _static("kube-state-metrics", targets.kubestate, honor_labels=True),
            {"job_name": "pods",
             "http_sd_configs": [{"url": f"http://{targets.kubestate}/sd/pods",
                                  "refresh_interval": interval}]},
            {"job_name": "gameday-extra",
             "file_sd_configs": [{"files": [str(file_sd_dir(prometheus_dir) / "*.json")],
                                  "refresh_interval": interval}]},
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
