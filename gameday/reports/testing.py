"""A testing kit for report sinks: a believable game day's evidence built with the real API.

The sample is a zone outage under load: baseline, fault (with a short burst of 502s after the
injection), recovery, five SLO verdicts. Built through `Evidence`, `Verdict` and `LoadResult`
themselves, so a change of their shapes shows up in the report tests, not in production.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from gameday.evidence import Evidence
from gameday.load.stats import LoadResult, RequestTotals, TimelinePoint
from gameday.reports.model import RunRecord, TestRecord, ZoneReadiness
from gameday.slo.base import Status, Verdict, Window

T0 = dt.datetime(2026, 1, 5, 10, 0, 0, tzinfo=dt.UTC)


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _verdict(name: str, kind: str, phase: str, start: float, end: float, measured: float | None,
             status: Status, target: str) -> Verdict:
    window = Window(phase, _at(start), _at(end))
    return Verdict(name, kind, phase, target, measured, status,
                   f'gameday_load_requests_total{{gameday_run!=""}}[{end - start:g}s]', window,
                   f"{name} during {window.describe()}: sample — query: q")


def sample_evidence(test_id: str = "scenarios/zone_outage.py::test_zone_outage[zone-b]", *,
                    fail_fault_slo: bool = False, inconclusive: bool = False) -> Evidence:
    """Evidence of a 60 s zone outage game day (phases 0-10, 10-40, 40-60 s after T0)."""
    ev = Evidence(test_id)
    ev.parameters.update({"app_namespace": "gameday-demo", "fault_s": 30.0, "users": 10})
    ev.event("load.start", "10 users -> http://127.0.0.1:8080", source="load", ts=_at(0))
    for name, start, end in (("baseline", 0, 10), ("fault", 10, 40), ("recovery", 40, 60)):
        ev.event("phase.start", name, source="gameday", ts=_at(start))
        ev.add_phase(name, _at(start), _at(end))
        ev.event("phase.end", name, source="gameday", ts=_at(end))
    ev.event("zone_outage.down", "zone zone-b: every instance stopped", source="fault",
             ts=_at(11))
    ev.event("zone_outage.reverted", "started 2 instances", source="fault", ts=_at(40))
    ev.figures.update({"zone_outage.injected_at": _at(11).timestamp(),
                       "zone_outage.reverted_at": _at(40).timestamp(),
                       "recovery_time_s": 4.0, "rescheduled_s": 21.5})
    ev.add_verdict(_verdict("steady_availability", "availability", "baseline", 0, 10, 1.0,
                            Status.PASS, ">= 99.0%"))
    fault_ok = not fail_fault_slo
    ev.add_verdict(_verdict("availability", "availability", "fault", 10, 40,
                            0.9975 if fault_ok else 0.91,
                            Status.PASS if fault_ok else Status.FAIL, ">= 95.0%"))
    ev.add_verdict(_verdict("latency", "latency", "fault", 10, 40,
                            None if inconclusive else 0.012,
                            Status.INCONCLUSIVE if inconclusive else Status.PASS,
                            "p95 <= 0.5 s"))
    ev.add_verdict(_verdict("recovery", "recovery_time", "recovery", 10, 60, 4.0,
                            Status.PASS, "<= 30 s"))
    timeline = [TimelinePoint(int(_at(s).timestamp()), 300.0 if s not in (11, 12) else 150.0,
                              40.0 if s in (11, 12) else 0.0, 3.0, 6.0 + (s in (11, 12)) * 20,
                              10.0, 10) for s in range(61)]
    ev.load = LoadResult(requests=17_700, failures=80, failures_by_error={"502": 80},
                         duration_s=60.0, rps=295.0, p50_ms=3.0, p95_ms=6.0, p99_ms=10.0,
                         timeline=timeline,
                         by_request={"GET /": RequestTotals("GET", "/", 17_700, 80)})
    ev.outcome = {"setup": "passed", "call": "passed"}
    return ev


def sample_zones() -> ZoneReadiness:
    """Ready pods per zone: zone-b drops to 0 during the fault, the others pick up."""
    stamps = [_at(s).timestamp() for s in range(0, 61, 5)]
    down = [(ts, 0.0 if 15 <= ts - T0.timestamp() <= 45 else 2.0) for ts in stamps]
    return ZoneReadiness("sum by (zone) (...)", {
        "zone-a": [(ts, 2.0) for ts in stamps], "zone-b": down,
        "zone-c": [(ts, 2.0 + (v == 0.0) * 2) for ts, v in down]})


def sample_run(run_dir: Path, *, profile: str = "fast", **evidence_kwargs: bool) -> RunRecord:
    """A run of one sample game day plus one plain failing test, in `run_dir`."""
    ev = sample_evidence(**evidence_kwargs)
    failed = any(evidence_kwargs.values())
    outcome = {"setup": "passed", "call": "failed" if failed else "passed",
               "teardown": "passed"}
    tests = [TestRecord(ev.test_id, outcome, 61.2, "AssertionError: 1 of 4 SLO verdicts not met"
                        if failed else "", failed, ev.to_dict(), run_dir / "tests" / "t0",
                        sample_zones()),
             TestRecord("tests/test_other.py::test_plain", {"setup": "passed", "call": "failed",
                                                           "teardown": "passed"}, 0.2,
                        "ValueError: not an assertion", False)]
    return RunRecord(run_dir.name, T0, _at(62), {"timing_profile": profile,
                                                 "context": "gameday-lab"}, tests,
                     {"junit.xml": "junit.xml"})
