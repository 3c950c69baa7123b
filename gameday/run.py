"""One pytest session's game-day run: its folder, its ledger, and the target it acts on.

The run folder (`reports/<run-id>/`) holds everything a review or a recovery needs: the revert
ledger, Locust's files, the evidence, and the reports. `reports/latest` points at the newest.
The target is resolved lazily, so `pytest --collect-only` and unit tests never touch a cluster.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from gameday.errors import LabNotRunning, UsageError
from gameday.extras import lab_extra
from gameday.narration import Narrator
from gameday.promql import cluster_from_context
from gameday.scenario_values import Overrides
from gameday.settings import Settings

if TYPE_CHECKING:
    from gameday.adapters.compute import ComputeAdapter
    from gameday.adapters.kube import KubeAdapter
    from gameday.adapters.prometheus import PromClient
    from gameday.faults.ledger import Ledger
    from gameday.lab.profiles import Profile
    from gameday.lab.state import LabState
    from gameday.load.local_prometheus import LocalPrometheus


@dataclass(frozen=True)
class TargetInfo:
    """Where a run acts: the cluster, its Prometheus, its Compute endpoint."""

    kubeconfig: Path | None
    context: str | None
    prometheus_url: str | None
    gce_endpoint: str | None
    gce_project: str | None
    profile_name: str  # timing profile: the lab's, or "gke" for a real cluster
    lab: LabState | None = None
    prometheus_cluster: str | None = None  # the `cluster` label every selector is scoped to

    def describe(self) -> dict[str, str]:
        """Environment rows for reports (no credentials: only names and URLs)."""
        return {"context": self.context or "(kubeconfig default)",
                "prometheus": self.prometheus_url or "(none)",
                "prometheus_cluster": self.prometheus_cluster or "(not scoped)",
                "compute_endpoint": self.gce_endpoint or "(Google Cloud default)",
                "gce_project": self.gce_project or "(from node providerIDs)",
                "timing_profile": self.profile_name,
                "target": "embedded lab" if self.lab else "cluster"}


NO_LAB = "; or run against a cluster: --kubeconfig PATH / --kube-context NAME"


def _check_default_kubeconfig() -> None:
    """Check that the kubeconfig kubectl would read exists ($KUBECONFIG's files, else
    ~/.kube/config; the client merges them itself): without one the Kubernetes client only
    says "cannot read kubeconfig None", not how to name a cluster."""
    paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if not any(Path(p).expanduser().is_file() for p in paths or ["~/.kube/config"]):
        where = f"$KUBECONFIG={os.pathsep.join(paths)}" if paths else "~/.kube/config"
        raise UsageError(f"no cluster to run against: --lab off, no --kubeconfig, and {where} "
                         "does not exist; pass --kubeconfig PATH (and --kube-context NAME), "
                         "or drop --lab off to use the embedded lab")


def _current_context(kubeconfig: Path | None) -> str | None:
    """The current-context of a kubeconfig (None when unreadable: the cluster is then not
    derived from it, and the Kubernetes client reports the file itself)."""
    import yaml

    path = kubeconfig or Path(os.environ.get("KUBECONFIG", "~/.kube/config").split(
        os.pathsep)[0]).expanduser()
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError):
        return None
    return data.get("current-context") if isinstance(data, dict) else None


def new_run_id() -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


class RunContext:
    """Session-wide state behind the `gameday` fixtures."""

    def __init__(self, settings: Settings, run_id: str | None = None,
                 narrator: Narrator | None = None) -> None:
        self.settings = settings
        self.narrator = narrator or Narrator()
        self.run_id = run_id or new_run_id()
        self.run_dir = (settings.report_dir / self.run_id).resolve()
        self._started_lab: Path | None = None
        self._loads = itertools.count()

    def new_load_id(self) -> str:
        """An id for one load run, unique in the session: it names the load's pods, its
        metric label and its processes (two tests' loads must never be taken for one)."""
        return f"{self.run_id}-{next(self._loads)}"

    def prepare_dir(self) -> Path:
        """Create the run folder and point `reports/latest` at it."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        latest = self.run_dir.parent / "latest"
        with contextlib.suppress(OSError):
            if latest.is_symlink() or latest.exists():
                latest.unlink()
            latest.symlink_to(self.run_dir.name)
        return self.run_dir

    @cached_property
    def ledger(self) -> Ledger:
        from gameday.faults.ledger import Ledger

        return Ledger.in_run_folder(self.prepare_dir())

    @cached_property
    def overrides(self) -> Overrides:
        """`--gameday-set` values, recording which keys the run's scenarios ask for."""
        return Overrides(self.settings.overrides)

    @cached_property
    def target(self) -> TargetInfo:
        s = self.settings
        if not s.uses_lab:
            context = s.kube_context or _current_context(s.kubeconfig)
            return TargetInfo(s.kubeconfig, s.kube_context, s.prometheus_url, s.gce_endpoint,
                              s.gce_project, "gke",
                              prometheus_cluster=s.prometheus_cluster
                              or cluster_from_context(context))
        with lab_extra(NO_LAB):
            state = self._lab_state()
        eps = state.endpoints()
        # with google auth, the lab's Managed-Prometheus-shaped endpoint (it wants a token)
        lab_prom = eps.get("gmp_url" if s.prometheus_auth == "google" else "prometheus_url")
        return TargetInfo(state.kubeconfig, state.context, s.prometheus_url or lab_prom,
                          s.gce_endpoint or eps.get("compute_endpoint"),
                          s.gce_project or eps.get("gce_project"), state.config.profile, state,
                          prometheus_cluster=s.prometheus_cluster or state.config.cluster)

    @cached_property
    def prom(self) -> PromClient:
        """The target's Prometheus, as every query of the run should reach it: with the
        run's credentials (a self-refreshing Google session under --prometheus-auth google)
        and scoped to the target's cluster. Built on first use; `check_prometheus` makes that
        the start of the first test, so a bad credential stops the run before any fault."""
        from gameday.adapters.prometheus import PromClient

        url = self.target.prometheus_url
        if not url:
            raise UsageError("no Prometheus to judge SLOs with: pass --prometheus-url (or ini "
                             "gameday_prometheus_url)")
        session = None
        if self.settings.prometheus_auth == "google":
            from gameday.adapters.google_auth import authorized_session

            session = authorized_session()
        scope = {"cluster": c} if (c := self.target.prometheus_cluster) else {}
        return PromClient(url, headers=self.settings.prometheus_headers, session=session,
                          scope=scope)

    def check_prometheus(self) -> None:
        """Under --prometheus-auth google, get the first token now (PrometheusAuthError)."""
        if self.settings.prometheus_auth == "google" and not self.settings.dry_run:
            _ = self.prom

    def _lab_state(self) -> LabState:
        from gameday.lab.state import LabState, default_dir

        lab_dir = (self.settings.lab_dir or default_dir()).resolve()
        try:
            state = LabState.load(lab_dir)
            if len(state.running()) == len(state.processes):
                return state
            if self.settings.lab == "running":
                raise LabNotRunning(f"the lab in {lab_dir} is only partly running "
                                    f"({', '.join(state.running()) or 'nothing'}): restart it "
                                    "with `gameday lab down && gameday lab up`")
            from gameday.lab.down import down

            down(lab_dir)
        except LabNotRunning:
            if self.settings.lab == "running":
                raise
        from gameday.lab.config import LabConfig
        from gameday.lab.up import up

        self.narrator.say(f"starting the embedded lab in {lab_dir} (--lab=off to refuse)")
        with self.narrator.live():
            state = up(LabConfig(), lab_dir, quiet=self.narrator.quiet)
        self._started_lab = lab_dir
        return state

    @cached_property
    def load_prometheus(self) -> LocalPrometheus:
        """The run's own Prometheus, for runner-side load off the lab: started on first use,
        shared by the session's tests, stopped by close()."""
        from gameday.load.local_prometheus import LocalPrometheus

        prom = LocalPrometheus(self.prepare_dir() / "load-prometheus", self.run_id)
        prom.start()
        return prom

    @cached_property
    def profile(self) -> Profile:
        from gameday.lab.profiles import get_profile

        return get_profile(self.target.profile_name)

    @cached_property
    def kube(self) -> KubeAdapter:
        from gameday.adapters.kube import KubeAdapter

        if self.target.kubeconfig is None:
            _check_default_kubeconfig()
        return KubeAdapter(self.target.kubeconfig, self.target.context)

    @cached_property
    def compute(self) -> ComputeAdapter | None:
        """GCE mode when there is an endpoint (the lab) or the nodes are GCE VMs (GKE)."""
        from gameday.adapters.compute import ComputeAdapter

        if self.target.gce_endpoint:
            compute = ComputeAdapter(api_endpoint=self.target.gce_endpoint,
                                     project=self.target.gce_project)
        elif any((n.provider_id or "").startswith("gce://") for n in self.kube.list_nodes()):
            # Application Default Credentials, as on GKE
            compute = ComputeAdapter(project=self.target.gce_project)
        else:
            return None
        compute.check_project()
        return compute

    def zones(self) -> list[str]:
        """Zones of the target's nodes, for parametrizing zone scenarios."""
        if override := self.overrides.get("zones"):
            return [z.strip() for z in override.split(",") if z.strip()]
        if self.settings.uses_lab:
            with lab_extra(NO_LAB):
                from gameday.lab.config import LabConfig
                from gameday.lab.state import LabState, default_dir

            lab_dir = (self.settings.lab_dir or default_dir()).resolve()
            try:
                return LabState.load(lab_dir).config.zone_names
            except LabNotRunning:
                return LabConfig().zone_names
        zones = sorted({n.zone for n in self.kube.list_nodes() if n.zone})
        if not zones:
            raise UsageError("no node of the target cluster has a topology.kubernetes.io/zone "
                             "label; pass --gameday-set zones=ZONE1,ZONE2")
        return zones

    def close(self) -> list[str]:
        """Session end: revert anything still outstanding, release the cluster lock, stop the
        run's own Prometheus and a lab we started."""
        messages: list[str] = []
        if "prom" in self.__dict__:
            self.prom.close()
        if "load_prometheus" in self.__dict__:
            self.load_prometheus.stop()
        if "ledger" in self.__dict__ and self.ledger.path.exists():
            from gameday.faults.recover import recover

            if self.ledger.read().outstanding:
                messages += recover(self.ledger.path, self.kube, self.compute)  # + the lock
            else:  # every fault reverted: no hold of this run may outlive it
                from gameday.faults.lock import ClusterLock

                if ClusterLock(self.kube, self.ledger).release(every_hold=True):
                    messages.append("released the cluster lock this run still held")
        if self._started_lab is not None:
            if self.settings.keep_lab:
                messages.append(f"the lab this run started keeps running in "
                                f"{self._started_lab} (`gameday lab down` stops it)")
            else:
                from gameday.lab.down import down

                down(self._started_lab)
                messages.append(f"stopped the lab this run started in {self._started_lab} "
                                "(--keep-lab keeps it for the next run)")
        return messages
