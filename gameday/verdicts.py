"""SLO verdicts for a game day: judge SLOs over its phases, gate on the steady state, measure
recovery time and error windows. Mixed into `GameDay`, whose evidence keeps every verdict.

No data is never a pass (see gameday.slo); a dry run judges nothing and says so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any

from gameday.errors import GamedayError, UsageError
from gameday.evidence import Evidence
from gameday.load import metrics

if TYPE_CHECKING:
    from gameday.adapters.prometheus import PromClient
    from gameday.faults.base import FaultResult
    from gameday.lab.profiles import Profile
    from gameday.slo import Verdict, Window


class SteadyStateNotMet(GamedayError):
    """The baseline did not meet the SLOs: nothing was injected (the scenario is invalid)."""


class Verdicts:
    """SLO judging over the phases a GameDay recorded."""

    evidence: Evidence

    @property
    def dry_run(self) -> bool:
        raise NotImplementedError

    @property
    def prom(self) -> PromClient:
        raise NotImplementedError

    @property
    def profile(self) -> Profile:
        raise NotImplementedError

    def observe(self, phase: str, seconds: float) -> None:
        raise NotImplementedError

    def load_losses(self) -> list[tuple[float, int, int]]:
        raise NotImplementedError

    def prom_for(self, slo: Any) -> PromClient:
        raise NotImplementedError

    def _judge(self, slo: Any, window: Window) -> Verdict:
        """One SLO over one window, at the Prometheus that holds its series, once that has
        scraped past the window's end. A verdict on the load's own series over a window in
        which the load lost a worker is INCONCLUSIVE: less load than planned, from fewer
        places, says nothing about the service, and must be neither its failure nor its
        pass."""
        prom = self.prom_for(slo)
        prom.wait_for_scrape(window.end)
        verdict = dataclasses.replace(slo.evaluate(prom, window), prometheus=prom.url)
        if metrics.PREFIX not in verdict.promql:
            return verdict
        lost = [(t, n, of) for t, n, of in self.load_losses() if t <= window.end.timestamp()]
        if not lost:
            return verdict
        from gameday.slo import Status

        when, count, planned = lost[0]
        stamp = dt.datetime.fromtimestamp(when, dt.UTC).strftime("%H:%M:%S")
        text = (f"load generator lost {count} of {planned} worker(s) at {stamp} UTC; the "
                f"window's client-side figures are not comparable ({verdict.message})")
        return dataclasses.replace(verdict, status=Status.INCONCLUSIVE, message=text)

    def windows(self, *phases: str) -> list[Window]:
        """The recorded windows of the named phases, in that order."""
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
        verdicts = []
        for window in self.windows(*phases):
            for slo in slos:
                verdict = self._judge(slo, window)
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
        start = fault.start if since == "inject" else fault.end
        slo = slo.for_scrape_interval(self.profile.scrape_interval)
        verdict = self._judge(slo, Window(f"recovery since {since}", start, end))
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
        prom = self.prom_for(total)
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
