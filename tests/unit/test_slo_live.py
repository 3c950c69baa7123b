"""End to end against a live /usr/bin/prometheus scraping an exporter this test drives (~8 s)."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.adapters.prometheus import PromClient, PrometheusQueryError, PrometheusUnreachable
from gameday.errors import ConditionTimeout
from gameday.slo import Availability, Latency, RecoveryTime, Status, Window
from gameday.slo.latency import bucket_quantile
from gameday.slo.testing import PROMETHEUS, DrivenExporter, run_prometheus

pytestmark = pytest.mark.skipif(shutil.which(PROMETHEUS) is None,
                                reason=f"{PROMETHEUS} is not installed")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PromClient, DrivenExporter]]:
    exporter = DrivenExporter()
    try:
        with run_prometheus(tmp_path_factory.mktemp("prom"), [exporter.target],
                            scrape_interval="500ms") as url, PromClient(url) as prom:
            prom.wait_for_scrape(time.time(), timeout_s=10)
            yield prom, exporter
    finally:
        exporter.close()


def test_availability_and_latency_end_to_end(live: tuple[PromClient, DrivenExporter]) -> None:
    prom, exporter = live
    start = dt.datetime.now(dt.UTC)
    for _ in range(5):  # 50 requests, 5 of them 502 after 0.3 s
        exporter.request(200, 0.02, 9)
        exporter.request(502, 0.3)
        time.sleep(0.3)
    end = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    t0 = time.monotonic()
    prom.wait_for_scrape(end, timeout_s=10)
    assert time.monotonic() - t0 < 3
    window = Window("fault", start, end)
    availability = Availability.from_load(0.95).evaluate(prom, window)
    assert availability.measured == pytest.approx(0.9)
    assert availability.status is Status.FAIL
    assert "5 of 50 requests failed" in availability.message
    latency = Latency.from_load(0.9, 0.25).evaluate(prom, window)
    # rank 0.9 * 50 = 45: the last of the 45 requests in the 0.01-0.025 s bucket
    assert latency.measured == pytest.approx(0.025)
    assert latency.status is Status.PASS


def test_recovery_is_inconclusive_when_empty_windows_could_hide_it(
        live: tuple[PromClient, DrivenExporter]) -> None:
    """Rolling windows shorter than the scrape interval (0.5 s here; 15 s on GKE) alternate
    between data and none: no recovery can be shown, and none can be ruled out either."""
    prom, exporter = live
    start = None
    began = time.monotonic()
    while time.monotonic() < began + 7:  # all good traffic: nothing but gaps stands in the way
        exporter.request(200, 0.01, 5)
        time.sleep(0.05)
        if start is None and time.monotonic() > began + 2.5:  # earlier tests' 502s roll out
            start = dt.datetime.now(dt.UTC)
    end = dt.datetime.now(dt.UTC)
    assert start is not None
    prom.wait_for_scrape(end, timeout_s=10)
    window = Window("recovery", start, end)
    thin = RecoveryTime(Availability.from_load(0.99), bound_s=10, hold_s=1, rolling_s=0.3,
                        step_s=0.3)
    verdict = thin.evaluate(prom, window)
    assert verdict.status is Status.INCONCLUSIVE, verdict.message
    assert "rolling windows had no data and could hide one" in verdict.message
    stretched = thin.for_scrape_interval(0.5)
    assert stretched.rolling_s == 2.0  # two scrapes and a second
    wide = RecoveryTime(Availability.from_load(0.99), bound_s=10)  # rolling 5 s by default
    assert wide.for_scrape_interval(1.0) is wide  # the fast lab: already wide enough
    assert stretched.evaluate(prom, window).status is Status.PASS


def test_never_recovered_fails(live: tuple[PromClient, DrivenExporter]) -> None:
    prom, exporter = live
    start = dt.datetime.now(dt.UTC)
    until = time.monotonic() + 4
    while time.monotonic() < until:  # one request in five fails, to the end
        exporter.request(200, 0.01, 4)
        exporter.request(502, 0.01)
        time.sleep(0.05)
    end = dt.datetime.now(dt.UTC)
    prom.wait_for_scrape(end, timeout_s=10)
    slo = RecoveryTime(Availability.from_load(0.99), bound_s=10, hold_s=1, rolling_s=1.5)
    verdict = slo.evaluate(prom, Window("recovery", start, end))
    assert verdict.status is Status.FAIL and verdict.measured is None
    assert "never recovered within the observed range" in verdict.message
    assert "at its end: 80.0" in verdict.message


def test_bad_promql_gets_prometheus_own_error(live: tuple[PromClient, DrivenExporter]) -> None:
    prom, _ = live
    with pytest.raises(PrometheusQueryError, match=r"HTTP 400 .*bad_data: .*parse error"):
        prom.query("rate(up[1m]")


def test_wait_for_scrape_times_out_when_no_target_matches(
        live: tuple[PromClient, DrivenExporter]) -> None:
    prom, _ = live
    t0 = time.monotonic()
    with pytest.raises(ConditionTimeout, match="no matching targets"):
        prom.wait_for_scrape(time.time(), selector='up{job="absent"}', timeout_s=0.5,
                             interval_s=0.2)
    assert time.monotonic() - t0 < 2


def test_run_prometheus_leaves_nothing_running(tmp_path: Path) -> None:
    with run_prometheus(tmp_path, ["127.0.0.1:9"]) as url, PromClient(url) as prom:
        assert prom.query("vector(1)")[0].value == 1.0
    with pytest.raises(PrometheusUnreachable, match="did not answer"):
        PromClient(url, timeout_s=1).query("vector(1)")


def test_bucket_quantile_agrees_with_prometheus(
        live: tuple[PromClient, DrivenExporter]) -> None:
    """Our interpolation over the same cumulative buckets equals histogram_quantile's."""
    prom, exporter = live
    exporter.request(200, 0.07, 3, name="/q")
    exporter.request(200, 0.6, 2, name="/q")
    at = time.time() + 1
    prom.wait_for_scrape(at, timeout_s=10)
    buckets_q = 'sum by (le) (gameday_load_request_duration_seconds_bucket{name="/q"})'
    buckets = {float(s.labels["le"]): s.value for s in prom.query(buckets_q, at=at)}
    for q in (0.1, 0.5, 0.9, 0.99, 1.0):
        (theirs,) = prom.query(f"histogram_quantile({q}, {buckets_q})", at=at)
        assert bucket_quantile(q, buckets) == pytest.approx(theirs.value), q
