"""gameday's pytest options: declared once, resolved option > environment > ini > default,
validated before any test runs.

Light on purpose (the pytest11 plugin imports it): no kubernetes, google or locust here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gameday.errors import UsageError

LAB_MODES = ("auto", "running", "off")
LOAD_PLACEMENTS = ("auto", "runner", "cluster")
LOAD_MONITORS = ("auto", "annotations", "podmonitoring", "podmonitor")
PROMETHEUS_AUTHS = ("none", "google")


@dataclass(frozen=True)
class Option:
    """One setting: its command-line flag, ini key, environment variable and help."""

    name: str  # attribute of Settings and ini key suffix
    flag: str
    help: str
    default: Any = None
    kind: str = "str"  # str | path | bool | list | float | int


OPTIONS: tuple[Option, ...] = (
    Option("kubeconfig", "--kubeconfig", "kubeconfig of the target cluster", kind="path"),
    Option("kube_context", "--kube-context", "kube context to run against (default: the lab)"),
    Option("lab", "--lab", "the embedded lab: auto (start it when needed), running (use a "
           "running one), off", default="auto"),
    Option("lab_dir", "--lab-dir", "lab state folder (default .gameday/lab)", kind="path"),
    Option("keep_lab", "--keep-lab", "leave a lab started by this run running", default=False,
           kind="bool"),
    Option("prometheus_url", "--prometheus-url", "Prometheus HTTP API base URL (default: the "
           "lab's)"),
    Option("prometheus_headers", "--prometheus-header", "extra header for Prometheus, "
           "'Name: value' (repeatable; for a server other than Managed Prometheus)", default=(),
           kind="list"),
    Option("prometheus_auth", "--prometheus-auth", "how to authenticate to Prometheus: none, "
           "or google (Application Default Credentials with monitoring.read, refreshed "
           "automatically: what Managed Prometheus needs)", default="none"),
    Option("prometheus_cluster", "--prometheus-cluster", "cluster label every series selector "
           "gets (cluster=\"NAME\", Managed Prometheus's label; default: the CLUSTER of a "
           "gke_PROJECT_LOCATION_CLUSTER context, the lab's cluster, else none)"),
    Option("gce_project", "--gce-project", "GCE project of the node VMs: checked with the "
           "Compute API, and a node of another project is refused (default: the lab's, or "
           "from the nodes' providerID)"),
    Option("gce_endpoint", "--gce-endpoint", "Compute Engine API endpoint override (default: "
           "the lab's; none on GKE)"),
    Option("allowed_contexts", "--allow-context", "kube context where destructive faults may "
           "run (repeatable); the lab's is always allowed", default=(), kind="list"),
    Option("dry_run", "--dry-run", "run read-only parts, print each fault's plan, write "
           "nothing", default=False, kind="bool"),
    Option("overrides", "--gameday-set", "override a scenario value or SLO field: KEY=VALUE, "
           "e.g. fault_s=30 or availability.target=0.995 (repeatable)", default=(),
           kind="list"),
    Option("report_dir", "--report-dir", "where run folders and reports go",
           default="reports", kind="path"),
    Option("max_nodes", "--max-nodes", "blast radius: most nodes one fault may take",
           default=3, kind="int"),
    Option("load_placement", "--load-placement", "where Locust runs: runner (this machine), "
           "cluster (pods in namespace gameday of the target), auto (runner on the lab, "
           "cluster otherwise)", default="auto"),
    Option("load_image", "--load-image", "image of the load pods (default: locustio/locust at "
           "the installed Locust version; e.g. a copy in your Artifact Registry)"),
    Option("load_node_selector", "--load-node-selector", "node label the load pods must have, "
           "KEY=VALUE (repeatable; e.g. cloud.google.com/gke-nodepool=default-pool)",
           default=(), kind="list"),
    Option("load_monitor", "--load-monitor", "how the cluster's Prometheus finds the load "
           "pods: podmonitoring (Managed Prometheus), podmonitor (prometheus-operator), "
           "annotations (prometheus.io/scrape), auto (by the CRDs that exist)",
           default="auto"),
)


def env_name(option: Option) -> str:
    return f"GAMEDAY_{option.name.upper()}"


def ini_name(option: Option) -> str:
    return f"gameday_{option.name}"


@dataclass(frozen=True)
class Settings:
    """The resolved, validated settings of one pytest session."""

    kubeconfig: Path | None = None
    kube_context: str | None = None
    lab: str = "auto"
    lab_dir: Path | None = None
    keep_lab: bool = False
    prometheus_url: str | None = None
    prometheus_headers: dict[str, str] = field(default_factory=dict)
    prometheus_auth: str = "none"
    prometheus_cluster: str | None = None
    gce_project: str | None = None
    gce_endpoint: str | None = None
    allowed_contexts: frozenset[str] = frozenset()
    dry_run: bool = False
    overrides: dict[str, str] = field(default_factory=dict)
    report_dir: Path = Path("reports")
    max_nodes: int = 3
    load_placement: str = "auto"
    load_image: str | None = None
    load_node_selector: dict[str, str] = field(default_factory=dict)
    load_monitor: str = "auto"

    @property
    def uses_lab(self) -> bool:
        """No explicit context and the lab not switched off: the lab is the target."""
        return self.kube_context is None and self.kubeconfig is None and self.lab != "off"


def _coerce(option: Option, raw: Any) -> Any:
    if option.kind == "bool":
        return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes", "on")
    if option.kind == "list":
        if isinstance(raw, str):
            return tuple(p.strip() for p in raw.replace("\n", ",").split(",") if p.strip())
        return tuple(raw)
    if option.kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise UsageError(f"{option.flag} must be a whole number, got {raw!r}") from None
    if option.kind == "path":
        return Path(raw).expanduser()
    return raw


def resolve(get_option: Any, get_ini: Any) -> Settings:
    """Build Settings from pytest's option and ini getters (callables taking a name)."""
    values: dict[str, Any] = {}
    for option in OPTIONS:
        raw = get_option(option.name)
        if raw in (None, (), []) or raw is False:
            raw = os.environ.get(env_name(option)) or get_ini(ini_name(option)) or None
        raw = option.default if raw in (None, "", ()) else raw
        values[option.name] = None if raw is None else _coerce(option, raw)
    return validate(values)


def _pairs(items: tuple[str, ...], sep: str, what: str, example: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, found, value = item.partition(sep)
        if not found or not key.strip():
            raise UsageError(f"bad {what} {item!r}: expected {example}")
        out[key.strip()] = value.strip()
    return out


def validate(values: dict[str, Any]) -> Settings:
    """Refuse impossible combinations with a message that names the option to fix."""
    if values["lab"] not in LAB_MODES:
        raise UsageError(f"--lab must be one of {', '.join(LAB_MODES)}, got {values['lab']!r}")
    url = values["prometheus_url"]
    if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
        raise UsageError(f"--prometheus-url must be an http(s) URL, got {url!r}")
    if values["gce_endpoint"] and urlsplit(values["gce_endpoint"]).scheme not in ("http",
                                                                                  "https"):
        raise UsageError(f"--gce-endpoint must be an http(s) URL, got {values['gce_endpoint']!r}")
    if values["kubeconfig"] and not Path(values["kubeconfig"]).exists():
        raise UsageError(f"--kubeconfig {values['kubeconfig']} does not exist")
    if values["max_nodes"] < 1:
        raise UsageError(f"--max-nodes must be at least 1, got {values['max_nodes']}")
    values["prometheus_headers"] = _pairs(values["prometheus_headers"], ":",
                                          "--prometheus-header", "'Name: value'")
    values["overrides"] = _pairs(values["overrides"], "=", "--gameday-set", "KEY=VALUE")
    values["allowed_contexts"] = frozenset(values["allowed_contexts"])
    if values["prometheus_auth"] == "google" and any(
            k.lower() == "authorization" for k in values["prometheus_headers"]):
        raise UsageError("--prometheus-auth google brings its own Authorization header: drop "
                         "the --prometheus-header 'Authorization: ...'")
    for name, choices in (("load_placement", LOAD_PLACEMENTS), ("load_monitor", LOAD_MONITORS),
                          ("prometheus_auth", PROMETHEUS_AUTHS)):
        if values[name] not in choices:
            raise UsageError(f"--{name.replace('_', '-')} must be one of {', '.join(choices)}, "
                             f"got {values[name]!r}")
    values["load_node_selector"] = _pairs(values["load_node_selector"], "=",
                                          "--load-node-selector", "KEY=VALUE")
    return Settings(**values)
