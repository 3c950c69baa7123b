"""Availability: the share of requests that did not fail, over a window, against a target.

A request fails when its series matches `bad` (default: `code_class` 5xx or "error", i.e. a
server error or no response at all); 4xx answers are the client's doing and count as served.
Counts are exact increases from raw samples (see counters.py), so the first failures of an
outage count even when their series appears mid-window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from gameday.errors import UsageError
from gameday.load import metrics
from gameday.promql import check_selector, with_matchers
from gameday.slo.base import Indicator, Measurement, check_fraction
from gameday.slo.counters import CounterSamples

if TYPE_CHECKING:
    from gameday.adapters.prometheus import PromClient

LOAD_REQUESTS = f'{metrics.REQUESTS}_total{{{metrics.RUN_LABEL}!=""}}'
"""Client-side requests counted by the Locust exporter (what users saw), selected by the
label the exporter sets itself, so the same selector works whichever job scrapes the load: the
lab's file_sd target, pod annotations, a PodMonitoring or a PodMonitor."""
LB_REQUESTS = "gameday_lb_requests_total"
"""Requests counted by the lab's load balancer (what the GCLB-like front end saw)."""
BAD_CODES = 'code_class=~"5xx|error"'
GCLB_REQUESTS = ('loadbalancing_googleapis_com:https_request_count'
                 '{monitored_resource="https_lb_rule"}')
"""GCLB's request count through Managed Prometheus (Cloud Monitoring's
loadbalancing.googleapis.com/https/request_count); the lab's balancer exports the same."""
GCLB_BAD = 'response_code_class="500"'
"""GCLB's class of a 5xx answer (its own 502s included) is the number 500."""


@dataclass(frozen=True)
class RequestCounts:
    """All requests and the failed ones, as raw counter samples over one span."""

    total: CounterSamples
    bad: CounterSamples


def collect_requests(prom: PromClient, total: str, bad: str, start: float,
                     end: float) -> RequestCounts:
    return RequestCounts(CounterSamples.fetch(prom, total, start, end),
                         CounterSamples.fetch(prom, with_matchers(total, bad), start, end))


def error_ratio(counts: RequestCounts, start: float, end: float) -> Measurement:
    """Failed / all requests over (start, end]; no value (no data) when nothing was counted."""
    queries = counts.total.queries + counts.bad.queries
    if not counts.total.has_series:
        return Measurement(None, f"no series match {counts.total.selector}", queries)
    requests = counts.total.total(start, end)
    if requests <= 0:
        return Measurement(None, f"0 requests counted by {counts.total.selector}", queries)
    failed = counts.bad.total(start, end)
    return Measurement(failed / requests, f"{failed:g} of {requests:g} requests failed", queries)


@dataclass(frozen=True)
class Availability(Indicator):
    """Success ratio >= target over the window.

    `total` selects every request counter series; `bad` adds label matchers that pick the failed
    ones among them.
    """

    target: float
    total: str = LOAD_REQUESTS
    bad: str = BAD_CODES
    name: str = "availability"

    kind: ClassVar[str] = "availability"
    better: ClassVar = "higher"

    def __post_init__(self) -> None:
        check_fraction(f"availability SLO {self.name!r}: target", self.target)
        check_requests(self.name, self.total, self.bad)

    @classmethod
    def from_load(cls, target: float, *, name: str = "availability") -> Availability:
        """From the client side: what the load generator's users saw."""
        return cls(target, LOAD_REQUESTS, name=name)

    @classmethod
    def from_lb(cls, target: float, *, backend_service: str | None = None,
                name: str = "lb-availability") -> Availability:
        """From the lab load balancer, optionally for one backend service."""
        selector = LB_REQUESTS + (f'{{backend_service="{backend_service}"}}'
                                  if backend_service else "")
        return cls(target, selector, name=name)

    @classmethod
    def from_gclb(cls, target: float, *, ingress: str | None = None,
                  url_map_name: str | None = None,
                  name: str = "gclb-availability") -> Availability:
        """From Google Cloud Load Balancing's own count (a GKE Ingress's, or the lab's),
        for the URL map of `ingress` ("namespace/name") or of the exact `url_map_name`."""
        return cls(target, with_matchers(GCLB_REQUESTS, gclb_matchers(ingress, url_map_name)),
                   GCLB_BAD, name=name)

    def collect(self, prom: PromClient, start: float, end: float) -> RequestCounts:
        return collect_requests(prom, self.total, self.bad, start, end)

    def measure(self, data: RequestCounts, start: float, end: float) -> Measurement:
        ratio = error_ratio(data, start, end)
        value = None if ratio.value is None else 1.0 - ratio.value
        return Measurement(value, ratio.note, ratio.queries)

    def meets(self, value: float) -> bool:
        return value >= self.target

    def threshold_text(self) -> str:
        return percent(self.target)

    def value_text(self, value: float) -> str:
        return percent(value)


def gclb_matchers(ingress: str | None, url_map_name: str | None) -> str:
    """The url_map_name matcher of one Ingress's load balancer: ingress-gce names its URL map
    `k8s2-um-<cluster uid>-<namespace>-<name>-<hash>` (namespace and name cut evenly to 36
    characters together; pass url_map_name for such long ones)."""
    if (ingress is None) == (url_map_name is None):
        raise UsageError("a GCLB SLO needs exactly one of ingress='NAMESPACE/NAME' or "
                         "url_map_name='k8s2-um-...'")
    if url_map_name is not None:
        return f'url_map_name="{url_map_name}"'
    namespace, sep, ingress_name = (ingress or "").partition("/")
    if not sep or not namespace or not ingress_name:
        raise UsageError(f"ingress must be 'NAMESPACE/NAME', got {ingress!r}")
    return f'url_map_name=~"k8s2-um-[a-z0-9]{{8}}-{namespace}-{ingress_name}-[a-z0-9]{{8}}"'


def percent(ratio: float) -> str:
    """99.0% / 99.95%: enough digits to tell a ratio from its target."""
    text = f"{ratio * 100:.3f}".rstrip("0")
    return (text + "0" if text.endswith(".") else text) + "%"


def check_requests(name: str, total: str, bad: str) -> None:
    """UsageError unless `total` is a series selector and `bad` non-empty label matchers."""
    check_selector(f"SLO {name!r}: total", total)
    if not bad.strip() or "{" in bad or "}" in bad:
        raise UsageError(f"SLO {name!r}: bad must be label matchers (no braces) picking the "
                         f"failed requests, e.g. {BAD_CODES!r}; got {bad!r}")
