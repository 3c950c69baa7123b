"""Latency: a quantile of request durations, from a Prometheus histogram, against a threshold.

The quantile is Prometheus's `histogram_quantile(q, sum by (le) (increase(x_bucket[w])))`,
computed here from exact bucket increases (counters.py) with the same interpolation. A
histogram only knows counts per bucket: when the threshold is a bucket boundary, "quantile <=
threshold" is exact (it is "at least q of requests took <= threshold"); otherwise the
quantile inside its bucket is linearly interpolated, and the verdict says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from gameday.errors import UsageError
from gameday.load import metrics
from gameday.promql import check_selector, with_matchers
from gameday.slo.availability import gclb_matchers
from gameday.slo.base import Indicator, Measurement, check_fraction, check_positive
from gameday.slo.counters import CounterSamples

if TYPE_CHECKING:
    from gameday.adapters.prometheus import PromClient

LOAD_DURATION = f'{metrics.DURATION}_bucket{{{metrics.RUN_LABEL}!=""}}'
LB_DURATION = "gameday_lb_request_duration_seconds_bucket"
GCLB_LATENCY = ('loadbalancing_googleapis_com:https_total_latencies_bucket'
                '{monitored_resource="https_lb_rule"}')
"""GCLB's total latency distribution through Managed Prometheus, in milliseconds."""


def bucket_quantile(q: float, buckets: dict[float, float]) -> float:
    """Prometheus's bucketQuantile over cumulative bucket counts keyed by upper bound.

    NaN without a +Inf bucket or without observations; the highest finite bound when the
    quantile falls in the +Inf bucket.
    """
    bounds = sorted(buckets)
    if not bounds or not math.isinf(bounds[-1]) or len(bounds) < 2:
        return math.nan
    counts = [buckets[b] for b in bounds]
    for i in range(1, len(counts)):  # rounding and resets can break monotonicity
        counts[i] = max(counts[i], counts[i - 1])
    observations = counts[-1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next(i for i, c in enumerate(counts) if c >= rank)
    if b == len(bounds) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    start, count = 0.0, counts[b]
    if b > 0:
        start = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (bounds[b] - start) * (rank / count)


@dataclass(frozen=True)
class Latency(Indicator):
    """The `quantile` of request durations <= `threshold_s` over the window.

    `histogram` selects the `_bucket` series of a duration histogram, whose unit is
    1/`per_second` s (1: seconds; GCLB's distribution is in ms: 1000).
    """

    quantile: float
    threshold_s: float
    histogram: str = LOAD_DURATION
    name: str = "latency"
    per_second: float = 1.0

    kind: ClassVar[str] = "latency"
    better: ClassVar = "lower"

    def __post_init__(self) -> None:
        check_fraction(f"latency SLO {self.name!r}: quantile", self.quantile)
        check_positive(f"latency SLO {self.name!r}: threshold_s", self.threshold_s)
        check_selector(f"latency SLO {self.name!r}: histogram", self.histogram)
        check_positive(f"latency SLO {self.name!r}: per_second", self.per_second)
        if "_bucket" not in self.histogram.split("{", 1)[0]:
            raise UsageError(f"latency SLO {self.name!r}: histogram must select the _bucket "
                             f"series, e.g. {LOAD_DURATION!r}; got {self.histogram!r}")

    @classmethod
    def from_load(cls, quantile: float, threshold_s: float, *,
                  name: str = "latency") -> Latency:
        """From the client side: durations the load generator's users waited."""
        return cls(quantile, threshold_s, LOAD_DURATION, name=name)

    @classmethod
    def from_lb(cls, quantile: float, threshold_s: float, *,
                backend_service: str | None = None, name: str = "lb-latency") -> Latency:
        """From the lab load balancer, optionally for one backend service."""
        selector = LB_DURATION + (f'{{backend_service="{backend_service}"}}'
                                  if backend_service else "")
        return cls(quantile, threshold_s, selector, name=name)

    @classmethod
    def from_gclb(cls, quantile: float, threshold_s: float, *, ingress: str | None = None,
                  url_map_name: str | None = None, name: str = "gclb-latency") -> Latency:
        """From Google Cloud Load Balancing's total latencies (ms) of one Ingress's URL map
        (see Availability.from_gclb for `ingress` / `url_map_name`)."""
        return cls(quantile, threshold_s,
                   with_matchers(GCLB_LATENCY, gclb_matchers(ingress, url_map_name)),
                   name=name, per_second=1000.0)

    def collect(self, prom: PromClient, start: float, end: float) -> CounterSamples:
        return CounterSamples.fetch(prom, self.histogram, start, end)

    def measure(self, data: CounterSamples, start: float, end: float) -> Measurement:
        if not data.has_series:
            return Measurement(None, f"no series match {self.histogram}", data.queries)
        try:
            buckets = {float(le) / self.per_second: n
                       for le, n in data.increase_by("le", start, end).items()}
        except ValueError:
            raise UsageError(f"latency SLO {self.name!r}: {self.histogram} has series without a "
                             "numeric 'le' label; select a histogram's _bucket series") from None
        value = bucket_quantile(self.quantile, buckets)
        requests = buckets.get(math.inf, 0.0)
        if math.isnan(value):
            return Measurement(None, f"{requests:g} requests observed in {self.histogram}",
                               data.queries)
        if self.threshold_s in buckets:
            how = f"exact: {self.threshold_s:g} s is a bucket boundary"
        else:
            finite = ", ".join(f"{b:g}" for b in sorted(buckets) if not math.isinf(b))
            how = (f"interpolated: {self.threshold_s:g} s is not a bucket boundary "
                   f"({finite}); the estimate assumes durations spread evenly in a bucket")
        return Measurement(value, f"{requests:g} requests; {how}", data.queries)

    def meets(self, value: float) -> bool:
        return value <= self.threshold_s

    def threshold_text(self) -> str:
        return f"{self.threshold_s:g} s"

    def target_text(self) -> str:
        return f"{self.quantile_name} <= {self.threshold_s:g} s"

    def value_text(self, value: float) -> str:
        return f"{self.quantile_name} {value:.3f} s"

    @property
    def quantile_name(self) -> str:
        """p95, p99.9: the usual short name of the quantile."""
        return f"p{self.quantile * 100:.6g}"
