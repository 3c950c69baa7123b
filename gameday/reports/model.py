"""What the reports are made of: one record per test and one per run, and the scenario verdict.

The records are plain data gathered while pytest runs (outcome per phase, the test's evidence,
ready pods per zone from Prometheus) so that every sink — HTML, JUnit, summary.json, Allure —
reads the same facts and a sink never has to talk to pytest, the cluster or Prometheus.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERDICTS = ("pass", "fail", "inconclusive", "error", "skipped")
"""Scenario verdicts, as a reviewer reads them."""


@dataclass(frozen=True)
class ZoneReadiness:
    """Ready pods per zone over a test's span, or why it could not be had (`error`)."""

    query: str
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "error": self.error,
                "series": {z: [list(p) for p in pts] for z, pts in self.series.items()}}


@dataclass
class TestRecord:
    """One pytest test as the reports see it. `evidence` is `Evidence.to_dict()` or None for
    a test that did not use the `gameday` fixture."""

    __test__ = False  # not a pytest test class, despite the name

    nodeid: str
    outcome: dict[str, str] = field(default_factory=dict)  # setup/call/teardown -> passed...
    duration_s: float = 0.0
    error_text: str = ""  # the tail of the first failure's report
    assertion_failed: bool = False  # the call failed on an AssertionError (a judged failure)
    evidence: dict[str, Any] | None = None
    test_dir: Path | None = None
    zones: ZoneReadiness | None = None

    @property
    def verdict(self) -> str:
        """pass / fail / inconclusive / error / skipped, from the outcome and the SLO verdicts.

        A failing setup or teardown, or a call that failed on anything but an assertion, is an
        *error* (the game day could not be judged), not a *fail* (it was judged and missed).
        An INCONCLUSIVE SLO with no failing one makes the scenario inconclusive: no data is
        never a pass.
        """
        statuses = {v["status"] for v in (self.evidence or {}).get("verdicts", [])}
        if "failed" in (self.outcome.get("setup"), self.outcome.get("teardown")):
            return "error"
        if "skipped" in self.outcome.values() and "failed" not in self.outcome.values():
            return "skipped"
        if self.outcome.get("call") == "failed":
            if "fail" in statuses:
                return "fail"
            if "inconclusive" in statuses:
                return "inconclusive"
            return "fail" if self.assertion_failed else "error"
        return "inconclusive" if "inconclusive" in statuses else "pass"

    @property
    def span(self) -> tuple[dt.datetime, dt.datetime] | None:
        """First to last moment the evidence knows of (events and phases), or None."""
        if not self.evidence:
            return None
        stamps = [e["ts"] for e in self.evidence.get("events", [])]
        for phase in self.evidence.get("phases", []):
            stamps += [phase["start"], phase["end"]]
        if not stamps:
            return None
        times = sorted(dt.datetime.fromisoformat(s) for s in stamps)
        return times[0], times[-1]

    def to_dict(self) -> dict[str, Any]:
        """The test's entry in summary.json (evidence figures and verdicts flattened in)."""
        ev = self.evidence or {}
        span = self.span
        return {
            "nodeid": self.nodeid, "verdict": self.verdict, "outcome": self.outcome,
            "duration_s": round(self.duration_s, 3), "error": self.error_text or None,
            "start": span[0].isoformat() if span else None,
            "end": span[1].isoformat() if span else None,
            "parameters": ev.get("parameters", {}), "figures": ev.get("figures", {}),
            "verdicts": ev.get("verdicts", []), "phases": ev.get("phases", []),
            "load": _load_totals(ev.get("load")),
            "evidence": str(self.test_dir / "evidence.json") if self.test_dir else None,
        }


@dataclass
class RunRecord:
    """A whole pytest session's game-day run."""

    run_id: str
    started: dt.datetime
    finished: dt.datetime
    environment: dict[str, str]
    tests: list[TestRecord]
    links: dict[str, str] = field(default_factory=dict)  # title -> path relative to run folder

    @property
    def fast_profile(self) -> bool:
        return self.environment.get("timing_profile") == "fast"

    def counts(self) -> dict[str, int]:
        return {v: sum(t.verdict == v for t in self.tests) for v in VERDICTS}

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "start": self.started.isoformat(),
                "end": self.finished.isoformat(), "environment": self.environment,
                "counts": self.counts(), "tests": [t.to_dict() for t in self.tests]}


def _load_totals(load: dict[str, Any] | None) -> dict[str, Any] | None:
    """Load totals without the per-second timeline (that stays in evidence.json)."""
    if not load:
        return None
    keys = ("requests", "failures", "rps", "duration_s", "p50_ms", "p95_ms", "p99_ms",
            "failures_by_error")
    return {k: load.get(k) for k in keys}
