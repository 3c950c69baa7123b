"""Where a game day's load runs, decided once per `gameday.load()` from the settings and the
target: runner (Locust on this machine) or cluster (Locust pods in the target cluster).

`auto` is runner on the embedded lab (its Prometheus scrapes this machine through a file_sd
target) and cluster on any other cluster: a real cluster's Prometheus cannot scrape the CI
runner, so runner-side load there would judge nothing.
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING

from gameday.errors import UsageError
from gameday.load.manifests import MONITOR_APIS, Placement

if TYPE_CHECKING:
    from gameday.adapters.kube import KubeAdapter
    from gameday.settings import Settings

IMAGE_REPOSITORY = "locustio/locust"


def choose(requested: str | None, settings: Settings, lab_target: bool) -> str:
    """`runner` or `cluster`: the scenario's own choice, else the setting, else by target."""
    placement = requested or settings.load_placement
    if placement not in ("auto", "runner", "cluster"):
        raise UsageError(f"load placement must be runner, cluster or auto, got {placement!r}")
    if placement == "auto":
        return "runner" if lab_target else "cluster"
    return placement


def default_image() -> str:
    """The official image at exactly the Locust version installed here: the pods then run the
    same engine (and master/worker protocol) as the runner's Locust."""
    return f"{IMAGE_REPOSITORY}:{metadata.version('locust')}"


def discover_monitor(kube: KubeAdapter, requested: str) -> tuple[str, str | None]:
    """(monitor kind, API version): the requested one (whose CRD must exist), or for `auto`
    Managed Prometheus' PodMonitoring, else prometheus-operator's PodMonitor, else the
    `prometheus.io/scrape` annotations most self-run Prometheus configs honour."""
    if requested == "annotations":
        return "annotations", None
    candidates = list(MONITOR_APIS) if requested == "auto" else [requested]
    for kind in candidates:
        group = MONITOR_APIS[kind][0]
        if version := kube.preferred_version(group):
            return kind, version
    if requested != "auto":
        raise UsageError(f"--load-monitor {requested}: the cluster serves no "
                         f"{MONITOR_APIS[requested][0]} API (its CRD is not installed); use "
                         "--load-monitor annotations or auto")
    return "annotations", None


def cluster_placement(settings: Settings, kube: KubeAdapter, *, workers: int,
                      avoid_zones: tuple[str, ...]) -> tuple[Placement, str | None]:
    """The pods' placement and the monitor's API version (None for annotations)."""
    monitor, version = discover_monitor(kube, settings.load_monitor)
    return Placement(image=settings.load_image or default_image(), workers=max(1, workers),
                     node_selector=dict(settings.load_node_selector),
                     avoid_zones=tuple(avoid_zones), monitor=monitor), version
