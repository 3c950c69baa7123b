"""The load half of a game day: where Locust runs, which Prometheus sees it, what a fault may
not take. Mixed into `GameDay` (gameday/gameday.py) like `Verdicts` and `Expectations`.

Runner placement runs Locust on this machine (scraped by the lab's Prometheus, or off the lab
by a Prometheus the run starts); cluster placement runs it as pods in the target
(gameday/load/cluster.py), scraped by the target's own Prometheus. Either way the load's
client-side series carry its run id (`gameday_run`), which is how it is waited for.
"""

from __future__ import annotations

import contextlib
import shlex
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gameday.errors import UsageError
from gameday.evidence import Evidence
from gameday.load import metrics

if TYPE_CHECKING:
    from gameday.adapters.kube import KubeAdapter
    from gameday.adapters.prometheus import PromClient
    from gameday.lab.profiles import Profile
    from gameday.load import LoadSpec
    from gameday.load.cluster import ClusterLoad
    from gameday.load.runner import LoadRun
    from gameday.run import RunContext
    from gameday.settings import Settings


class Loading:
    """`gameday.load()` and what the rest of a game day needs to know of the running load."""

    evidence: Evidence
    run: RunContext
    settings: Settings
    dir: Path
    _load: LoadRun | ClusterLoad | None
    _cluster_loads: list[ClusterLoad]  # kept after stop: their lost workers
    _load_prom_url: str | None  # runner load off the lab: the run's own Prometheus

    @property
    def dry_run(self) -> bool:
        raise NotImplementedError

    @property
    def kube(self) -> KubeAdapter:
        raise NotImplementedError

    @property
    def prom(self) -> PromClient:
        raise NotImplementedError

    @property
    def profile(self) -> Profile:
        raise NotImplementedError

    def prom_for(self, indicator: Any) -> PromClient:
        """The Prometheus holding an indicator's series: the run's own for the client-side
        series of runner load off the lab (the target's cannot scrape this machine), else
        the target's."""
        from gameday.adapters.prometheus import PromClient

        if self._load_prom_url and metrics.PREFIX in repr(indicator):
            return PromClient(self._load_prom_url)
        return self.prom

    def protected_targets(self) -> dict[str, str]:
        """What a fault may not take: the nodes and pods of the running in-cluster load."""
        running = [run for run in self._cluster_loads if run is self._load]
        return running[0].protected() if running else {}

    @contextlib.contextmanager
    def load(self, host: str | None = None, *, placement: str | None = None,
             avoid_zones: Sequence[str] = (), **spec: Any) -> Iterator[LoadRun | ClusterLoad]:
        """Run Locust during the block (LoadSpec fields as keywords); stopped on every exit.

        placement: `runner` or `cluster` (default: --load-placement). avoid_zones: zones the
        load pods must not run in, e.g. the zone the scenario takes down (cluster only)."""
        from gameday.load import LoadSpec
        from gameday.load.placement import choose

        host = host or self._default_host()
        run_id = self.run.new_load_id()
        where = choose(placement, self.settings, self.run.target.lab is not None)
        load_spec = LoadSpec(host=host, **spec)
        run = (self._cluster_load(load_spec, run_id, tuple(avoid_zones)) if where == "cluster"
               else self._runner_load(load_spec, run_id))
        if self.dry_run:
            self.evidence.event("load.dry_run", f"would send load to {host} from the {where}",
                                source="load")
            yield run
            return
        self.evidence.event("load.start", f"{load_spec.users} users -> {host} ({where})",
                            source="load")
        started = time.time()
        run.start()  # a start that fails cleans up after itself, and its error is the story
        self._load = run
        try:
            if run in self._cluster_loads:
                self._expect_load_scraped(run, started)
            yield run
            self._flush_load_metrics(run_id)
        finally:
            run.stop()
            self._load = None
            self._load_done(run)

    def _runner_load(self, spec: LoadSpec, run_id: str) -> LoadRun:
        from gameday.load import LoadRun

        targets_dir = self._targets_dir()
        if targets_dir is None and not self.dry_run:  # off the lab: the run's own Prometheus
            local = self.run.load_prometheus
            targets_dir, self._load_prom_url = local.targets_dir, local.url
        run = LoadRun(spec, self.dir / "load", targets_dir=targets_dir, run_id=run_id,
                      margin_s=self._load_margin_s())
        if spec.remote_workers and not self.dry_run:
            self.evidence.event("load.remote_workers", f"waiting for {spec.remote_workers} "
                                f"remote worker(s): {shlex.join(run.remote_worker_command())}",
                                source="load")
        return run

    def _load_margin_s(self) -> float:
        """Without a run_time_s, the load ends at most a step's longest bounded wait (plus two
        minutes for a fault's own API calls) past the last window the scenario held (`hold`
        announces each with `extend`), not an hour later: a harness that hangs stops renewing
        the load's lease then."""
        return max(self.profile.reschedule_timeout_s(),
                   self.profile.node_replacement_timeout_s()) + 120

    def _cluster_load(self, spec: LoadSpec, run_id: str, avoid_zones: tuple[str, ...]
                      ) -> ClusterLoad:
        """Locust pods in the target: a write to the cluster, so only where faults may run."""
        from gameday.faults.safety import Safety
        from gameday.load.cluster import ClusterLoad
        from gameday.load.placement import cluster_placement

        Safety(self.settings.allowed_contexts).check_context(self.kube.context)
        placement, version = cluster_placement(self.settings, self.kube, workers=spec.workers,
                                               avoid_zones=avoid_zones)
        run = ClusterLoad(spec, self.dir / "load", kube=self.kube, ledger=self.run.ledger,
                          run_id=run_id, placement=placement, monitor_version=version,
                          scrape_interval_s=self.profile.scrape_interval,
                          margin_s=self._load_margin_s(), progress=self._load_progress)
        self._cluster_loads.append(run)
        return run

    def _load_progress(self, message: str) -> None:
        self.evidence.event("load.progress", message, source="load")

    def _load_logs(self, run: LoadRun | ClusterLoad) -> str:
        if run in self._cluster_loads:
            return (f"`kubectl -n {self._cluster_loads[-1].placement.namespace} get pods -l "
                    f"{self._cluster_loads[-1].names.selector}` and their logs")
        return str(run.out_dir / "locust.log")

    def _load_done(self, run: LoadRun | ClusterLoad) -> None:
        result = run.result()
        self.evidence.event("load.stop", f"{result.requests} requests, "
                            f"{result.failures} failures", source="load")
        self.evidence.load = result
        history = self.dir / "load" / "load_stats_history.csv"
        if history.exists():  # the runner's Locust writes it; a pod's does not
            self.evidence.attach("locust stats history", history, "text/csv")

    def load_losses(self) -> list[tuple[float, int, int]]:
        """(when, workers lost, workers planned) of this test's load runs, for the verdicts."""
        return [loss for run in self._cluster_loads for loss in run.lost_workers]

    def _expect_load_scraped(self, run: ClusterLoad, since: float) -> None:
        """The cluster's Prometheus must see the load before anything is judged: a load it
        never scrapes could only ever give 'no data', found out after the fault."""
        from gameday.errors import ConditionTimeout, LoadError

        if not self.run.target.prometheus_url:
            return
        timeout = max(60.0, 6 * self.profile.scrape_interval)
        try:
            self.prom.wait_for_scrape(since, timeout_s=timeout,
                                      selector=_load_series(run.run_id))
        except ConditionTimeout as exc:
            how = run.placement.monitor
            raise LoadError(
                f"the load runs but Prometheus at {self.run.target.prometheus_url} has not "
                f"scraped it in {timeout:g} s ({exc}); the load pods are found by {how}: check "
                "that this Prometheus scrapes pods in namespace gameday, or choose another way "
                "with --load-monitor") from exc

    def _flush_load_metrics(self, run_id: str) -> None:
        """Keep Locust up until Prometheus scraped it once more: what clients saw in the last
        phase's final second would otherwise never reach Prometheus."""
        series = _load_series(run_id)
        if self.run.target.prometheus_url or self._load_prom_url:
            self.prom_for(series).wait_for_scrape(
                time.time(), timeout_s=max(15.0, 3 * self.profile.scrape_interval),
                selector=series)

    def _default_host(self) -> str:
        """`--gameday-set load_host=URL`, else the lab's ingress."""
        if url := self.run.overrides.get("load_host"):
            return url
        if self.run.target.lab is not None:
            url = self.run.target.lab.endpoints().get("ingress_url")
            if url:
                return url
        raise UsageError("no load target: pass --gameday-set load_host=URL (your Ingress's "
                         "address), or host= to gameday.load()")

    def _targets_dir(self) -> Path | None:
        lab = self.run.target.lab
        return lab.dir / "prometheus" / "targets" if lab is not None else None


def _load_series(run_id: str) -> str:
    """Every client-side series of one load run, whatever job the scraping Prometheus gives."""
    return f'gameday_load_requests_total{{gameday_run="{run_id}"}}'


