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
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from gameday.errors import GamedayError, UsageError
from gameday.evidence import Evidence
from gameday.expectations import Expectations
from gameday.loading import Loading
from gameday.provisioning import Provisioning
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
    from gameday.load.cluster import ClusterLoad
    from gameday.load.runner import LoadRun
    from gameday.provision.provisioned import Provisioned
    from gameday.run import RunContext

F = TypeVar("F", bound="Fault")
T = TypeVar("T")


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


class GameDay(Loading, Verdicts, Expectations, Provisioning):
    """One scenario's game day; built by the `gameday` fixture. SLO judging comes from
    `Verdicts` (gameday/verdicts.py), checks on the app and nodes from `Expectations`
    (gameday/expectations.py), the load from `Loading` (gameday/loading.py), the cluster
    state it runs in from `Provisioning` (gameday/provisioning.py)."""

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
        self._states: list[Provisioned] = []  # undone at close, after the faults

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

    def fault_target(self) -> Target:
        from gameday.faults.base import Target
        from gameday.faults.safety import BlastRadius, Safety

        return Target(kube=self.run.kube, compute=self.run.compute, ledger=self.run.ledger,
                      safety=Safety(self.settings.allowed_contexts,
                                    BlastRadius(max_nodes=self.settings.max_nodes)),
                      dry_run=self.dry_run, evidence=self._fault_event,
                      profile=self.run.profile, protected=self.protected_targets)

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
        """Revert what the test left injected, undo the states it provisioned, give the
        cluster lock back, then write the evidence for the reports."""
        try:
            try:
                for fault in list(reversed(self._faults)):
                    fault.revert()
            finally:
                self.close_states()
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


def _slug(nodeid: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in nodeid)[-120:]
