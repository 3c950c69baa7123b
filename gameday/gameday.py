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
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from gameday.errors import GamedayError, UsageError
from gameday.evidence import Evidence

if TYPE_CHECKING:
    import pytest

    from gameday.adapters.kube import DeploymentStatus, KubeAdapter
    from gameday.adapters.prometheus import PromClient
    from gameday.faults.base import Fault, FaultResult, Target
    from gameday.faults.selection import NodeSelector
    from gameday.load.runner import LoadRun
    from gameday.run import RunContext
    from gameday.slo import Verdict

F = TypeVar("F", bound="Fault")
T = TypeVar("T")


class SteadyStateNotMet(GamedayError):
    """The baseline did not meet the SLOs: nothing was injected (the scenario is invalid)."""


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


class GameDay:
    """One scenario's game day; built by the `gameday` fixture."""

    def __init__(self, run: RunContext, item: pytest.Item) -> None:
        self.run = run
        self.item = item
        self.settings = run.settings
        self.evidence = Evidence(test_id=item.nodeid)
        self.dir = run.prepare_dir() / "tests" / _slug(item.nodeid)
        self._faults: list[Fault] = []
        self._phase_starts: dict[str, float] = {}
        self._load: LoadRun | None = None

    # -- target ------------------------------------------------------------------------------
    @property
    def kube(self) -> KubeAdapter:
        return self.run.kube

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
                      profile=self.run.profile)

    def _fault_event(self, kind: str, message: str, data: Mapping[str, Any]) -> None:
        self.evidence.event(kind, message, source="fault", data=dict(data))

    # -- scenario values -----------------------------------------------------------------------
    def param(self, name: str, default: T) -> T:
        """A scenario value, overridable with `--gameday-set NAME=VALUE` (typed like default)."""
        raw = self.settings.overrides.get(name)
        if raw is None:
            value = default
        else:
            try:
                value = type(default)(raw)  # type: ignore[call-arg]
            except ValueError:
                raise UsageError(f"--gameday-set {name}={raw!r}: expected a "
                                 f"{type(default).__name__} like {default!r}") from None
        self.evidence.parameters[name] = value
        return value

    def slos(self, slos: list[T]) -> list[T]:
        """Apply `--gameday-set SLO_NAME.FIELD=VALUE` overrides to a scenario's SLOs."""
        out = []
        for slo in slos:
            changes = {}
            for key, raw in self.settings.overrides.items():
                name, _, field = key.partition(".")
                if field and name == getattr(slo, "name", None):
                    current = getattr(slo, field, None)
                    if current is None:
                        raise UsageError(f"--gameday-set {key}: SLO {name!r} has no field "
                                         f"{field!r}")
                    changes[field] = type(current)(raw)
            out.append(dataclasses.replace(slo, **changes) if changes else slo)
        return out

    # -- phases ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Mark a phase (baseline, fault, recovery): its window is what SLOs are judged on."""
        start = time.time()
        self._phase_starts[name] = start
        self.evidence.event("phase.start", name, source="gameday")
        try:
            yield
        finally:
            end = time.time()
            self.evidence.add_phase(name, _utc(start), _utc(end))
            self.evidence.event("phase.end", name, source="gameday")

    def hold(self, seconds: float) -> None:
        """Keep the current state for a measured window while load runs; fail fast if the
        load generator dies meanwhile (a window without load measures nothing). A dry run
        measures nothing, so it does not wait."""
        if self.dry_run:
            return
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self._load is not None and not self._load.running:
                raise GamedayError("the load generator stopped during the window; see "
                                   f"{self._load.out_dir / 'locust.log'}")
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
    def load(self, host: str | None = None, **spec: Any) -> Iterator[LoadRun]:
        """Run Locust during the block (LoadSpec fields as keywords); stopped on every exit."""
        from gameday.load import LoadRun, LoadSpec

        host = host or self._default_host()
        run_id = f"{self.run.run_id}-{len(self.evidence.timeline.events('load.start'))}"
        run = LoadRun(LoadSpec(host=host, **spec), self.dir / "load",
                      targets_dir=self._targets_dir(), run_id=run_id)
        if self.dry_run:
            self.evidence.event("load.dry_run", f"would send load to {host}", source="load")
            yield run
            return
        self.evidence.event("load.start", f"{spec.get('users', 20)} users -> {host}",
                            source="load")
        run.start()
        self._load = run
        try:
            yield run
            self._flush_load_metrics(run_id)
        finally:
            run.stop()
            self._load = None
            result = run.result()
            self.evidence.event("load.stop", f"{result.requests} requests, "
                                f"{result.failures} failures", source="load")
            self.evidence.load = result
            self.evidence.attach("locust stats history", self.dir / "load" /
                                 "load_stats_history.csv", "text/csv")

    def _flush_load_metrics(self, run_id: str) -> None:
        """Keep Locust up until Prometheus scraped it once more: what clients saw in the last
        phase's final second would otherwise never reach Prometheus."""
        if self.run.target.prometheus_url and self._targets_dir() is not None:
            self.prom.wait_for_scrape(time.time(), timeout_s=15,
                                      selector=f'up{{job="gameday-load",run="{run_id}"}}')

    def _default_host(self) -> str:
        if self.run.target.lab is not None:
            url = self.run.target.lab.endpoints().get("ingress_url")
            if url:
                return url
        raise UsageError("no load target: pass host= to gameday.load(), or run on the lab")

    def _targets_dir(self) -> Path | None:
        lab = self.run.target.lab
        return lab.dir / "prometheus" / "targets" if lab is not None else None

    # -- the application under test ------------------------------------------------------------
    def ensure_available(self, namespace: str, name: str, timeout_s: float
                         ) -> DeploymentStatus:
        """The app must be fully available before a scenario starts (else a clear error)."""
        from gameday.checks import ensure_available

        status = ensure_available(self.kube, namespace, name, timeout_s)
        self.evidence.event("app.available", f"{namespace}/{name}: {status.available}/"
                            f"{status.desired} available", source="gameday")
        return status

    def expect_replicas_outside(self, app: Any, zone: str, timeout_s: float) -> float:
        """Wait until all of the app's replicas are ready outside `zone`; figure
        `rescheduled_s` is the time from the fault's injection until then."""
        if self.dry_run:
            return 0.0
        from gameday.checks import wait_replicas_outside

        wait_replicas_outside(self.kube, app.namespace, app.selector, zone, app.replicas,
                              timeout_s)
        since_fault = time.time() - self._phase_starts["fault"]
        self.evidence.figures["rescheduled_s"] = since_fault
        self.evidence.event("app.rescheduled", f"{app.replicas} replicas ready outside {zone} "
                            f"{since_fault:.1f}s after injection", source="gameday")
        return since_fault

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
                yield result
            finally:
                fault.revert()
                self._faults.remove(fault)
                self.evidence.figures[f"{fault.kind}.reverted_at"] = time.time()

    def spot_nodes(self, count: int) -> NodeSelector:
        """`count` Ready Spot/preemptible nodes spread over zones (inside the blast radius)."""
        from gameday.node_loss import spread_spot_nodes

        return spread_spot_nodes(self.kube.list_nodes(), count)

    def expect_nodes_replaced(self, timeout_s: float) -> dict[str, float]:
        """Wait until the innermost fault's lost nodes are back (NodePreemption: Ready with a
        new boot id); in GCE mode each VM must have a new instance id. Figures: each milestone
        in seconds since injection (`node_not_ready_s` ... `node_back_s`)."""
        if self.dry_run or not self._faults:
            return {}
        from gameday.node_loss import milestone_figures, replacements

        fault = self._faults[-1]
        seen = fault.wait_recovered(timeout_s)  # type: ignore[attr-defined]
        assert fault.result is not None and fault.result.injected_at is not None
        figures = milestone_figures(seen, fault.result.injected_at)
        self.evidence.figures.update(figures)
        planned = fault.plan().undo.get("nodes", [])
        if self.run.compute is not None and planned and "instance_id" in planned[0]:
            replaced = replacements(self.run.compute, planned)
            self.evidence.figures["instances_recreated"] = sum(r.recreated for r in replaced)
            self.evidence.event("nodes.replaced", ", ".join(
                f"{r.node}: instance {r.old_id} -> {r.new_id}" for r in replaced),
                source="gameday", data={"replacements": replaced})
            stale = [r.node for r in replaced if not r.recreated]
            if stale:
                raise AssertionError(f"node(s) {', '.join(stale)} came back on their old VM: "
                                     "the MIG did not recreate them")
        return figures

    def error_window(self, name: str, killed: FaultResult, total: str, failed: str,
                     bound_s: float) -> float:
        """Seconds from the first backend kill in `killed` to the last failed request counted
        by `total` + `failed` matchers; figures `NAME_window_s`, `NAME_bound_s` (what the
        health check promises) and `NAME_requests` (how many failed)."""
        if self.dry_run:
            return 0.0
        from gameday.error_window import measure_error_window

        since = min(k["killed_at"] for k in killed.data["killed"])
        end = max(p.end for p in self.evidence.phases).timestamp()
        prom = self.prom
        prom.wait_for_scrape(end)
        window = measure_error_window(prom, total, failed, since, end)
        self.evidence.figures.update({f"{name}_window_s": window.seconds,
                                      f"{name}_bound_s": bound_s,
                                      f"{name}_requests": window.failed})
        self.evidence.event("error_window", f"{window.failed:g} failed of {window.requests:g} "
                            f"requests, last {window.seconds:.1f}s after the kill (bound "
                            f"{bound_s:g}s)", source="gameday",
                            data={"queries": window.queries})
        return window.seconds

    # -- SLOs ------------------------------------------------------------------------------------
    def windows(self, *phases: str) -> list[Any]:
        from gameday.slo import Window

        found = {p.name: p for p in self.evidence.phases}
        missing = [p for p in phases if p not in found]
        if missing:
            raise UsageError(f"no phase {', '.join(missing)} ran in this test; phases so far: "
                             f"{', '.join(found) or 'none'}")
        return [Window(p, found[p].start, found[p].end) for p in phases]

    def evaluate(self, slos: list[Any], *phases: str) -> list[Verdict]:
        """Judge SLOs over each named phase's window; verdicts are kept for the reports."""
        if self.dry_run:
            return []
        prom = self.prom
        verdicts = []
        for window in self.windows(*phases):
            prom.wait_for_scrape(window.end)
            for slo in slos:
                verdict = slo.evaluate(prom, window)
                verdicts.append(verdict)
                self.evidence.add_verdict(verdict)
        return verdicts

    def steady_state(self, slos: list[Any], seconds: float) -> list[Verdict]:
        """Baseline phase: the SLOs must hold before anything is injected."""
        self.observe("baseline", seconds)
        verdicts = self.evaluate(slos, "baseline")
        bad = [v for v in verdicts if not v.passed]
        if bad:
            raise SteadyStateNotMet(
                "steady state not met, nothing was injected:\n" +
                "\n".join(f"  - {v.message}" for v in bad))
        return verdicts

    def recovery(self, slo: Any, since: str = "inject") -> Verdict | None:
        """Measure time to recover, from the fault's injection (`since="inject"`) or from its
        revert (`since="revert"`, e.g. a zone coming back); figure `recovery_time_s`."""
        if self.dry_run:
            return None
        from gameday.slo import Window

        if since not in ("inject", "revert"):
            raise UsageError(f"recovery since must be 'inject' or 'revert', got {since!r}")
        (fault,) = self.windows("fault")
        end = max(p.end for p in self.evidence.phases)
        prom = self.prom
        prom.wait_for_scrape(end)
        start = fault.start if since == "inject" else fault.end
        verdict = slo.evaluate(prom, Window(f"recovery since {since}", start, end))
        self.evidence.add_verdict(verdict)
        if verdict.measured is not None:
            self.evidence.figures["recovery_time_s"] = verdict.measured
        return verdict

    def assert_slos(self) -> None:
        """Fail the test with every SLO that did not pass; a dry run judges nothing."""
        if self.dry_run:
            self.evidence.event("slo.skipped", "dry run: no SLO judged", source="gameday")
            return
        from gameday.slo import assert_slos

        assert_slos(self.evidence.verdicts)

    # -- end of test -----------------------------------------------------------------------------
    def close(self, outcome: Mapping[str, Any]) -> None:
        """Revert what the test left injected, then write the evidence for the reports."""
        for fault in list(reversed(self._faults)):
            fault.revert()
        self.evidence.outcome = dict(outcome)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "evidence.json").write_text(json.dumps(self.evidence.to_dict(), indent=2,
                                                           default=str))


def _slug(nodeid: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in nodeid)[-120:]
