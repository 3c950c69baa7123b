"""SLO verdicts over answers recorded from a real Prometheus 2.42 (data/prometheus/record.py).

The recording drove known traffic: baseline 100 requests / 3 failed (the 503 series born
mid-window), fault 40 / 10 failed, an idle gap with no requests, and an outage of ~5 s of 50%
errors at 0.4 s. The replayer serves the answers over loopback HTTP to the real client.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.adapters.prometheus import PromClient
from gameday.slo import (
    Availability,
    BurnRate,
    Latency,
    RecoveryTime,
    Status,
    Window,
    assert_slos,
)
from gameday.slo.testing import Exchange, PromReplay

RECORDING = Path(__file__).parent / "data" / "prometheus" / "outage.json"
META = json.loads(RECORDING.read_text())["meta"]
DRIVEN = META["driven"]
WINDOWS = {w["phase"]: Window(w["phase"], dt.datetime.fromisoformat(w["start"]),
                              dt.datetime.fromisoformat(w["end"])) for w in META["windows"]}
SCRAPE_S = 1.0


@pytest.fixture(scope="module")
def prom() -> Iterator[PromClient]:
    with PromReplay(Exchange.load(RECORDING)).serve() as url, PromClient(url) as client:
        yield client


@pytest.mark.parametrize("phase", ["baseline", "fault"])
def test_availability_is_exact_over_the_window(prom: PromClient, phase: str) -> None:
    truth = 1 - DRIVEN[phase]["failed"] / DRIVEN[phase]["requests"]
    verdict = Availability.from_load(0.99).evaluate(prom, WINDOWS[phase])
    assert verdict.measured == pytest.approx(truth, abs=1e-12)
    assert verdict.status is Status.FAIL
    assert f"{DRIVEN[phase]['failed']} of {DRIVEN[phase]['requests']} requests failed" \
        in verdict.message


def test_availability_passes_when_target_met(prom: PromClient) -> None:
    verdict = Availability.from_load(0.95).evaluate(prom, WINDOWS["baseline"])
    assert verdict.status is Status.PASS
    assert verdict.message.startswith("availability during baseline (")
    assert "97.0% >= target 95.0%" in verdict.message


def test_failures_whose_series_is_born_in_the_window_count(prom: PromClient) -> None:
    """The 503 series first appears with value 1 mid-baseline: increase() would miss it."""
    verdict = Availability.from_load(0.99).evaluate(prom, WINDOWS["baseline"])
    assert verdict.measured == pytest.approx(0.97)


def test_zero_requests_is_inconclusive_not_a_pass(prom: PromClient) -> None:
    verdict = Availability.from_load(0.5).evaluate(prom, WINDOWS["idle"])
    assert verdict.status is Status.INCONCLUSIVE
    assert verdict.measured is None
    assert "0 requests counted by gameday_load_requests_total" in verdict.message
    assert "query: gameday_load_requests_total{" in verdict.message


def test_no_matching_series_is_inconclusive(prom: PromClient) -> None:
    slo = Availability(0.99, 'gameday_load_requests_total{job="nope"}', name="empty")
    verdict = slo.evaluate(prom, WINDOWS["baseline"])
    assert verdict.status is Status.INCONCLUSIVE
    assert 'no series match gameday_load_requests_total{job="nope"}' in verdict.message


def test_latency_quantile_on_a_bucket_boundary_is_exact(prom: PromClient) -> None:
    base = Latency.from_load(0.95, 0.25).evaluate(prom, WINDOWS["baseline"])
    fault = Latency.from_load(0.95, 0.25).evaluate(prom, WINDOWS["fault"])
    # baseline: 97 x 0.04 s (bucket 0.025-0.05), rank 95 -> 0.025 + 0.025 * 95/97
    assert base.measured == pytest.approx(0.025 + 0.025 * 95 / 97)
    assert base.status is Status.PASS
    # fault: 30 <= 0.05 s, 6 in 0.3-0.5, 4 in 1-2.5; rank 38 -> 1 + 1.5 * 2/4
    assert fault.measured == pytest.approx(1.75)
    assert fault.status is Status.FAIL
    assert "exact: 0.25 s is a bucket boundary" in fault.message


def test_latency_threshold_between_buckets_says_interpolated(prom: PromClient) -> None:
    verdict = Latency.from_load(0.99, 0.15).evaluate(prom, WINDOWS["baseline"])
    assert verdict.measured == pytest.approx(0.1 + 0.1 * 2 / 3)  # rank 99 in 0.1-0.2 bucket
    assert verdict.status is Status.FAIL
    assert "interpolated: 0.15 s is not a bucket boundary" in verdict.message


def test_latency_without_requests_is_inconclusive(prom: PromClient) -> None:
    verdict = Latency.from_load(0.95, 0.25).evaluate(prom, WINDOWS["idle"])
    assert verdict.status is Status.INCONCLUSIVE


def test_burn_rate(prom: PromClient) -> None:
    base = BurnRate(0.99, 14.4).evaluate(prom, WINDOWS["baseline"])
    fault = BurnRate(0.99, 14.4).evaluate(prom, WINDOWS["fault"])
    assert base.measured == pytest.approx(0.03 / 0.01)
    assert base.status is Status.PASS
    assert fault.measured == pytest.approx(0.25 / 0.01)
    assert fault.status is Status.FAIL
    assert "burn 25.00x > target 14.4x" in fault.message


@pytest.mark.parametrize("sli", [Availability.from_load(0.99), Latency.from_load(0.95, 0.25)],
                         ids=["availability", "latency"])
def test_recovery_time_matches_the_driven_outage(prom: PromClient, sli) -> None:
    slo = RecoveryTime(sli, bound_s=10, hold_s=3, rolling_s=3,
                       name="recovery" if sli.kind == "availability" else "latency-recovery")
    verdict = slo.evaluate(prom, WINDOWS["recovery"])
    truth = DRIVEN["recovery"]["errors_for_s"]
    assert verdict.status is Status.PASS
    # Never early; late by at most one step plus one scrape interval (the module's resolution).
    assert truth - 0.1 <= verdict.measured <= truth + slo.step_s + SCRAPE_S
    assert f"recovered after {verdict.measured:.1f} s <= target 10 s" in verdict.message


def test_recovery_beyond_bound_fails(prom: PromClient) -> None:
    slo = RecoveryTime(Availability.from_load(0.99), bound_s=2, hold_s=3, rolling_s=3)
    verdict = slo.evaluate(prom, WINDOWS["recovery"])
    assert verdict.status is Status.FAIL
    assert "> target 2 s" in verdict.message


def test_a_range_too_short_for_the_hold_is_inconclusive(prom: PromClient) -> None:
    """A hold longer than what was observed after the outage: a recovery can be neither
    shown nor ruled out, and the message says how long to observe."""
    slo = RecoveryTime(Availability.from_load(0.99), bound_s=10, hold_s=30, rolling_s=3)
    verdict = slo.evaluate(prom, WINDOWS["recovery"])
    assert verdict.status is Status.INCONCLUSIVE
    assert verdict.measured is None
    assert "observe for at least 34 s" in verdict.message


def test_assert_slos_lists_every_failing_and_inconclusive_verdict(prom: PromClient) -> None:
    verdicts = [Availability.from_load(0.95).evaluate(prom, WINDOWS["baseline"]),
                Availability.from_load(0.99).evaluate(prom, WINDOWS["fault"]),
                Availability.from_load(0.99).evaluate(prom, WINDOWS["idle"])]
    with pytest.raises(AssertionError) as info:
        assert_slos(verdicts)
    text = str(info.value)
    assert text.startswith("2 of 3 SLO verdicts not met")
    assert "[FAIL] availability during fault" in text
    assert "[INCONCLUSIVE] availability during idle" in text
    assert_slos(verdicts[:1])
