"""Scenario verdicts from outcomes and SLO verdicts, and summary entries."""

from __future__ import annotations

import pytest

from gameday.reports.model import TestRecord
from gameday.reports.testing import sample_evidence


def record(outcome: dict[str, str], *, assertion: bool = False, **kwargs: bool) -> TestRecord:
    return TestRecord("t::x", outcome, 1.0, "boom" if "failed" in outcome.values() else "",
                      assertion, sample_evidence(**kwargs).to_dict())


@pytest.mark.parametrize(("outcome", "assertion", "kwargs", "expected"), [
    ({"setup": "passed", "call": "passed", "teardown": "passed"}, False, {}, "pass"),
    ({"setup": "passed", "call": "failed", "teardown": "passed"}, True,
     {"fail_fault_slo": True}, "fail"),
    ({"setup": "passed", "call": "failed", "teardown": "passed"}, True,
     {"inconclusive": True}, "inconclusive"),
    ({"setup": "passed", "call": "failed", "teardown": "passed"}, True,
     {"inconclusive": True, "fail_fault_slo": True}, "fail"),
    ({"setup": "passed", "call": "passed", "teardown": "passed"}, False,
     {"inconclusive": True}, "inconclusive"),
    ({"setup": "failed", "teardown": "passed"}, False, {}, "error"),
    ({"setup": "passed", "call": "passed", "teardown": "failed"}, False, {}, "error"),
    ({"setup": "passed", "call": "failed", "teardown": "passed"}, False, {}, "error"),
    ({"setup": "passed", "call": "failed", "teardown": "passed"}, True, {}, "fail"),
    ({"setup": "skipped", "teardown": "passed"}, False, {}, "skipped"),
])
def test_verdict(outcome: dict[str, str], assertion: bool, kwargs: dict[str, bool],
                 expected: str) -> None:
    assert record(outcome, assertion=assertion, **kwargs).verdict == expected


def test_verdict_without_evidence_follows_the_outcome() -> None:
    plain = TestRecord("t::plain", {"setup": "passed", "call": "passed", "teardown": "passed"})
    assert plain.verdict == "pass"
    assert plain.span is None


def test_summary_entry_has_figures_verdicts_and_span_but_no_timeline() -> None:
    entry = record({"setup": "passed", "call": "passed", "teardown": "passed"}).to_dict()
    assert entry["verdict"] == "pass"
    assert entry["figures"]["recovery_time_s"] == 4.0
    assert [v["phase"] for v in entry["verdicts"]] == ["baseline", "fault", "fault",
                                                       "recovery"]
    assert entry["start"].startswith("2026-01-05T10:00:00")
    assert entry["end"].startswith("2026-01-05T10:01:00")
    assert entry["load"]["requests"] == 17_700
    assert "timeline" not in entry["load"]
