"""`GameDay`: what a scenario talks to — phases, load, faults, SLO verdicts — one per test.

A scenario reads like a runbook:

    with gameday.load(users=20):
        gameday.steady_state(slos)                          # baseline; gate before any fault
        with gameday.inject(ZoneOutage, zone=zone):         # fault phase; always reverted
            gameday.hold(fault_s)
        gameday.observe("recovery", recovery_s)             # recovery phase
    gameday.evaluate(slos, "fault", "recovery")
    gameday.assert_slos()

Every step lands in the test's Evidence (timeline, phases, verdicts, figures), which the report
sinks turn into HTML, Allure, JUnit properties and summary.json.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import shlex
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from gameday.errors import GamedayError, UsageError
from gameday.evidence import Evidence
from gameday.expectations import Expectations
from gameday.load import metrics
from gameday.scenario_values import parse
from gameday.verdicts import Verdicts

if TYPE_CHECKING:
    import pytest

    from gameday.adapters.kube import KubeAdapter
    from gameday.adapters.kube_types import ClusterEvent
    from gameday.adapters.prometheus import PromClient
    from gameday.cluster_events import EventRecorder
    from gameday.faults.base import Fault, FaultResult, Target
    from gameday.faults.lock import Lock
    from gameday.lab.profiles import Profile
    from gameday.load import LoadSpec
    from gameday.load.cluster import ClusterLoad
    from gameday.load.runner import LoadRun
    from gameday.run import RunContext

F = TypeVar("F", bound="Fault")
T = TypeVar("T")


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


class GameDay(Verdicts, Expectations):
    """One scenario's game day; built by the `gameday` fixture. SLO judging comes from
    `Verdicts` (gameday/verdicts.py), checks on the app and nodes from `Expectations`
    (gameday/expectations.py)."""

    def __init__(self, run: RunContext, item: pytest.Item) -> None:
        self.run = run
        self.item = item
        self.settings = run.settings
        self.evidence = Evidence(item.nodeid, observer=run.narrator.for_test(item.nodeid))
        self.dir = run.prepare_dir() / "tests" / _slug(item.nodeid)
        self._faults: list[Fault] = []
        self._phase_starts: dict[str, float] = {}
        self._load: LoadRun | ClusterLoad | None = None
        self._cluster_loads: list[ClusterLoad] = []  # kept after stop: their lost workers
        self._load_prom_url: str | None = None  # runner load off the lab: the run's Prometheus
        self._events: EventRecorder | bool | None = None  # False: no cluster to read
        self._lock: Lock | None = None  # held from the first fault to the end of the test

    # -- target ------------------------------------------------------------------------------
    @property
    def kube(self) -> KubeAdapter:
        return self.run.kube

    @property
    def profile(self) -> Profile:
        """The target's timings: the lab's profile, or `gke` for a real cluster; scenarios
        derive their waits from it (`profile.reschedule_timeout_s()`)."""
        return self.run.profile

    @property
    def dry_run(self) -> bool:
        return self.settings.dry_run

    @property
    def prom(self) -> PromClient:
        from gameday.adapters.prometheus import PromClient

        url = self.run.target.prometheus_url
        if not url:
            raise UsageError("no Prometheus to judge SLOs with: pass --prometheus-url (or ini "
                             "gameday_prometheus_url)")
        return PromClient(url, headers=self.settings.prometheus_headers)

    def prom_for(self, indicator: Any) -> PromClient:
        """The Prometheus holding an indicator's series: the run's own for the client-side
        series of runner load off the lab (the target's cannot scrape this machine), else
        the target's."""
        from gameday.adapters.prometheus import PromClient

        if self._load_prom_url and metrics.PREFIX in repr(indicator):
            return PromClient(self._load_prom_url)
        return self.prom

    def fault_target(self) -> Target:
        from gameday.faults.base import Target
        from gameday.faults.safety import BlastRadius, Safety

        return Target(kube=self.run.kube, compute=self.run.compute, ledger=self.run.ledger,
                      safety=Safety(self.settings.allowed_contexts,
                                    BlastRadius(max_nodes=self.settings.max_nodes)),
                      dry_run=self.dry_run, evidence=self._fault_event,
                      profile=self.run.profile, protected=self.protected_targets)

    def protected_targets(self) -> dict[str, str]:
        """What a fault may not take: the nodes and pods of the running in-cluster load."""
        running = [run for run in self._cluster_loads if run is self._load]
        return running[0].protected() if running else {}

    def _fault_event(self, kind: str, message: str, data: Mapping[str, Any]) -> None:
        self.evidence.event(kind, message, source="fault", data=dict(data))

    # -- scenario values -----------------------------------------------------------------------
    def param(self, name: str, default: T) -> T:
        """A scenario value, overridable with `--gameday-set NAME=VALUE` (typed like default)."""
        raw = self.run.overrides.get(name)
        value = default if raw is None else parse(name, raw, default)
        self.evidence.parameters[name] = value
        return value

    def window(self, name: str, default_s: float) -> float:
        """A measured phase's length in seconds, overridable like `param`. The default is
        stretched to four scrapes of the target's Prometheus (the timing profile's interval:
        1 s on the fast lab, 15 s on GKE), so that a rolling window of two scrapes (what a
        recovery time needs to have data) can slide over it: a window without samples can
        only be inconclusive. An explicit `--gameday-set` value is taken as given."""
        return self.param(name, max(default_s, 4 * self.profile.scrape_interval + 1))

    def slos(self, slos: list[T]) -> list[T]:
        """Apply `--gameday-set SLO_NAME.FIELD=VALUE` overrides to a scenario's SLOs."""
        out = []
        for slo in slos:
            changes = {}
            name = getattr(slo, "name", None)
            for field, raw in (self.run.overrides.fields(name) if name else {}).items():
                current = getattr(slo, field, None)
                if current is None:
                    raise UsageError(f"--gameday-set {name}.{field}: SLO {name!r} has no field "
                                     f"{field!r}")
                changes[field] = parse(f"{name}.{field}", raw, current)
            out.append(dataclasses.replace(slo, **changes) if changes else slo)
        return out

    # -- phases ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Mark a phase (baseline, fault, recovery): its window is what SLOs are judged on."""
        start = time.time()
        if self._events is None:
            self._record_cluster_events(start)
        self._phase_starts[name] = start
        self.evidence.event("phase.start", name, source="gameday")
        try:
            yield
        finally:
            end = time.time()
            self.evidence.add_phase(name, _utc(start), _utc(end))
            self.evidence.event("phase.end", name, source="gameday")

    def _record_cluster_events(self, since: float) -> None:
        """Kubernetes Events from the first phase on go into the timeline (illustration only:
        events can be lost, so no verdict depends on them)."""
        from gameday.cluster_events import EventRecorder

        def sink(event: ClusterEvent, when: dt.datetime) -> None:
            self.evidence.event(f"k8s.{event.reason}", f"{event.object}: {event.message}",
                                source="k8s", ts=when,
                                data={"type": event.type, "count": event.count})

        try:
            kube = self.kube
        except GamedayError as exc:  # no cluster to read: the timeline says so, nothing breaks
            self.evidence.event("k8s.unavailable", f"no Kubernetes events recorded: {exc}",
                                source="gameday")
            self._events = False
            return

        def warn(message: str) -> None:  # narrated, and in the report's timeline
            self.evidence.event("events.unavailable", message, source="gameday")

        self._events = EventRecorder(kube, sink, _utc(since), warn=warn).start()

    def hold(self, seconds: float) -> None:
        """Keep the current state for a measured window while load runs; fail fast if the
        load generator dies meanwhile (a window without load measures nothing). A dry run
        measures nothing, so it does not wait."""
        if self.dry_run:
            return
        deadline = time.monotonic() + seconds
        if extend := getattr(self._load, "extend", None):  # the load's planned end follows
            extend(seconds)
        while (left := deadline - time.monotonic()) > 0:
            self.run.narrator.flush()
            if self._load is not None and not self._load.running:
                raise GamedayError("the load generator stopped during the window; see "
                                   f"{self._load_logs(self._load)}")
            time.sleep(min(0.5, left))

    def hold_phase(self, seconds: float) -> None:
        """Hold until the innermost running phase has lasted `seconds` in total (checks made
        at its start count towards the window instead of extending it)."""
        started = max(self._phase_starts.values(), default=time.time())
        self.hold(max(0.0, started + seconds - time.time()))

    def observe(self, phase: str, seconds: float) -> None:
        """A phase that only watches: e.g. recovery after the fault is reverted."""
        with self.phase(phase):
            self.hold(seconds)

    # -- load ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def load(self, host: str | None = None, *, placement: str | None = None,
             avoid_zones: Sequence[str] = (), **spec: Any) -> Iterator[LoadRun | ClusterLoad]:
        """Run Locust during the block (LoadSpec fields as keywords); stopped on every exit.

        placement: `runner` or `cluster` (default: --load-placement). avoid_zones: zones the
        load pods must not run in, e.g. the zone the scenario takes down (cluster only)."""
        from gameday.load import LoadSpec
        from gameday.load.placement import choose

        host = host or self._default_host()
        run_id = f"{self.run.run_id}-{len(self.evidence.timeline.events('load.start'))}"
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
        try:
            run.start()
            self._load = run
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
        # without a run_time_s, the load ends at most a step's longest bounded wait (plus two
        # minutes for a fault's own API calls) past the last window the scenario held
        # (gameday/load/runner.py), not an hour later
        margin_s = max(self.profile.reschedule_timeout_s(),
                       self.profile.node_replacement_timeout_s()) + 120
        run = LoadRun(spec, self.dir / "load", targets_dir=targets_dir, run_id=run_id,
                      margin_s=margin_s)
        if spec.remote_workers and not self.dry_run:
            self.evidence.event("load.remote_workers", f"waiting for {spec.remote_workers} "
                                f"remote worker(s): {shlex.join(run.remote_worker_command())}",
                                source="load")
        return run

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
                          progress=lambda message: self.evidence.event("load.progress",
                                                                       message, source="load"))
        self._cluster_loads.append(run)
        return run

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

    # -- faults --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def inject(self, fault_type: type[F], *, phase: str = "fault", **kwargs: Any
               ) -> Iterator[FaultResult]:
        """Inject a fault for the block (the `fault` phase, or `phase` for a fault that only
        sets the stage for another, e.g. a health-check change); reverted on every exit path."""
        fault = fault_type(self.fault_target(), **kwargs)
        self._faults.append(fault)
        with self.phase(phase):
            try:
                result = fault.inject()
                self.evidence.figures[f"{fault.kind}.injected_at"] = time.time()
                self._hold_lock(fault)
                yield result
            finally:
                fault.revert()
                self._faults.remove(fault)
                self.evidence.figures[f"{fault.kind}.reverted_at"] = time.time()

    def _hold_lock(self, fault: Fault) -> None:
        """Keep the cluster lock the first fault took until the test ends: the recovery after
        the revert is part of the game day, and another one's fault would spoil it."""
        if self._lock is None and not self.dry_run:
            self._lock = fault.target.lock
            assert self._lock is not None
            self._lock.acquire()

    # -- end of test -----------------------------------------------------------------------------
    def close(self, outcome: Mapping[str, Any]) -> None:
        """Revert what the test left injected, give the cluster lock back, then write the
        evidence for the reports."""
        try:
            for fault in list(reversed(self._faults)):
                fault.revert()
        finally:
            if self._lock is not None and self._lock.release():
                self.evidence.event("gameday.unlocked", "released the cluster lock: the game "
                                    "day is over", source="gameday")
            self._lock = None
        if self._events:
            self._events.stop()
        self.evidence.outcome = dict(outcome)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "evidence.json").write_text(json.dumps(self.evidence.to_dict(), indent=2,
                                                           default=str))


def _load_series(run_id: str) -> str:
    """Every client-side series of one load run, whatever job the scraping Prometheus gives."""
    return f'gameday_load_requests_total{{gameday_run="{run_id}"}}'


def _slug(nodeid: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in nodeid)[-120:]
