"""The error window after backends die abruptly, and the bound health checks put on it.

A load balancer keeps routing to a SIGKILLed backend until it learns the backend is gone: from
its health check (at most unhealthyThreshold x checkIntervalSec, plus timeoutSec for the check
in flight) or from the endpoint leaving the NEG, whichever comes first. The window is measured
from raw counter samples, from the kill to the last scrape at which the failed-request counter
grew: an upper bound with one scrape interval of resolution, never extrapolated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gameday.errors import SloError, UsageError
from gameday.promql import check_selector, with_matchers
from gameday.slo.counters import CounterSamples

if TYPE_CHECKING:
    from gameday.adapters.prometheus import PromClient

HEALTH_CHECK_FIELDS = ("unhealthyThreshold", "checkIntervalSec", "timeoutSec")


def health_check_bound(health_check: Mapping[str, Any]) -> float:
    """unhealthyThreshold x checkIntervalSec + timeoutSec, from BackendConfig field names."""
    missing = [f for f in HEALTH_CHECK_FIELDS if f not in health_check]
    if missing:
        raise UsageError(f"health check {dict(health_check)} lacks {', '.join(missing)}: the "
                         "502 bound needs unhealthyThreshold, checkIntervalSec and timeoutSec")
    return (float(health_check["unhealthyThreshold"]) * float(health_check["checkIntervalSec"])
            + float(health_check["timeoutSec"]))


@dataclass(frozen=True)
class ErrorWindow:
    """Failed requests after `since`: how many, and until when (seconds after `since`)."""

    seconds: float  # 0 when nothing failed
    failed: float
    requests: float
    queries: tuple[str, ...]


def last_growth(samples: CounterSamples) -> float | None:
    """Time of the last sample at which any series of the counter grew (resets count)."""
    latest = None
    for series in samples.points.keys() | samples.baseline.keys():
        last = samples.baseline.get(series, 0.0)
        for t, v in samples.points.get(series, []):
            if v != last:
                latest = t if latest is None else max(latest, t)
            last = v
    return latest


def measure_error_window(prom: PromClient, total: str, failed: str, since: float,
                         end: float) -> ErrorWindow:
    """The window of requests matching `total` + `failed` matchers in (since, end].

    SloError when `total` has no series there: no traffic measured is never a zero window.
    """
    check_selector("error window: total", total)
    requests = CounterSamples.fetch(prom, total, since, end)
    bad = CounterSamples.fetch(prom, with_matchers(total, failed), since, end)
    count = requests.total(since, end)
    if count <= 0:
        raise SloError(f"no requests counted by {total} between the kill and {end:.0f}: is "
                       "the load running and Prometheus scraping it? The 502 window cannot be "
                       "measured without traffic")
    grew = last_growth(bad)
    return ErrorWindow(0.0 if grew is None else max(0.0, grew - since), bad.total(since, end),
                       count, requests.queries + bad.queries)
