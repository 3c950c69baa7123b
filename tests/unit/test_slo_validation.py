"""Malformed SLOs and windows are refused at construction with a UsageError saying what to do."""

from __future__ import annotations

import datetime as dt

import pytest

from gameday.errors import UsageError
from gameday.slo import Availability, BurnRate, Latency, RecoveryTime, Status, Verdict, Window

T0 = dt.datetime(2025, 1, 1, 12, 0, 5, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(seconds=30)


@pytest.mark.parametrize(("make", "match"), [
    (lambda: Availability(0), r"target must be in \(0, 1\]"),
    (lambda: Availability(1.5), r"target must be in \(0, 1\]"),
    (lambda: Availability(float("nan")), "target"),
    (lambda: Availability(0.99, total=""), "series selector"),
    (lambda: Availability(0.99, total="rate(x[1m])"), "series selector"),
    (lambda: Availability(0.99, bad=""), "label matchers"),
    (lambda: Availability(0.99, bad='{code="500"}'), "no braces"),
    (lambda: Latency(0.95, -1), "threshold_s must be > 0"),
    (lambda: Latency(1.2, 0.25), "quantile"),
    (lambda: Latency(0.95, 0.25, histogram="http_request_duration_seconds_sum"), "_bucket"),
    (lambda: BurnRate(1.0, 14.4), "no error budget"),
    (lambda: BurnRate(0.99, 0), "max_burn must be > 0"),
    (lambda: RecoveryTime(Availability(0.99), bound_s=-1), "bound_s"),
    (lambda: RecoveryTime(Availability(0.99), bound_s=10, rolling_s=0.5), "rolling_s"),
    (lambda: RecoveryTime("availability", bound_s=10), "must be an Availability"),
    (lambda: Window("", T0, T1), "phase name"),
    (lambda: Window("fault", T1, T0), "before it starts"),
    (lambda: Window("fault", T0.replace(tzinfo=None), T1), "timezone-aware"),
])
def test_malformed_input_is_refused(make, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        make()


def test_constructors_for_the_agreed_metrics() -> None:
    assert Availability.from_lb(0.99, backend_service="web").total == \
        'gameday_lb_requests_total{backend_service="web"}'
    assert Latency.from_load(0.99, 0.5).histogram == \
        'gameday_load_request_duration_seconds_bucket{gameday_run!=""}'
    assert Latency.from_lb(0.5, 0.1).target_text() == "p50 <= 0.1 s"


def test_window_reads_for_humans() -> None:
    assert Window("fault", T0, T1).describe() == "fault (12:00:05-12:00:35 UTC)"


def test_verdict_raise_for_status() -> None:
    verdict = Verdict("a", "availability", "fault", ">= 99.0%", 0.972, Status.FAIL, "q",
                      Window("fault", T0, T1), "availability during fault: 97.2% < 99.0%")
    with pytest.raises(AssertionError, match=r"97\.2% < 99\.0%"):
        verdict.raise_for_status()
    assert verdict.to_dict()["status"] == "fail"
