"""The one module that talks HTTP to Prometheus: prometheus-api-client 0.7.2 made safe to judge by.

Why a wrapper and not the client itself (see shared ECOSYSTEM.md): the client's timeout
defaults to none, its retries back off for seconds on a dead server, it drops the response's
`warnings` (partial data), raises with the raw bytes of the body instead of Prometheus's error
text, returns values as strings and rounds range bounds to whole seconds. Here every call has a
timeout, errors name the URL and the query, values are floats, and warnings are kept.

    SloError
    ├── PrometheusUnreachable   no answer (refused, timed out): check the URL, is it running?
    └── PrometheusQueryError    an answer that is not data: bad PromQL (400), auth (401/403), ...
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from prometheus_api_client import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect
from urllib3.util.retry import Retry

from gameday.errors import ConditionTimeout, SloError
from gameday.promql import scoped

log = logging.getLogger(__name__)

Instant = dt.datetime | float
"""A point in time: a timezone-aware datetime or unix seconds."""


class PrometheusUnreachable(SloError):
    """Prometheus did not answer at all (connection refused, reset or timed out)."""


class PrometheusQueryError(SloError):
    """Prometheus answered, but with an error instead of data (bad query, auth, overload)."""


@dataclass(frozen=True)
class Sample:
    """One element of an instant vector: a series' labels and its value at the query time."""

    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    """One series over time: (unix seconds, value) points, oldest first."""

    labels: Mapping[str, str]
    points: list[tuple[float, float]]


@dataclass(frozen=True)
class PromWarning:
    """A warning Prometheus attached to an answer (typically: the data may be partial)."""

    query: str
    text: str


def unix(ts: Instant) -> float:
    """Unix seconds of a timestamp; naive datetimes are refused (they hide a timezone bug)."""
    if isinstance(ts, dt.datetime):
        if ts.tzinfo is None:
            raise SloError(f"naive datetime {ts.isoformat()}: pass a timezone-aware (UTC) one")
        return ts.timestamp()
    return float(ts)


def _fmt(ts: float) -> str:
    # Millisecond precision is what Prometheus stores; a fixed format keeps requests replayable.
    return f"{ts:.3f}"


def duration(seconds: float) -> str:
    """A PromQL duration in whole milliseconds (`[95500ms]`), exact where `[95.5s]` is invalid."""
    return f"{max(1, round(seconds * 1000))}ms"


class PromClient:
    """Queries one Prometheus (or a compatible API such as Google Managed Prometheus).

    `headers` go on every request; `auth` is a (user, password) pair for basic auth;
    `session` replaces the plain one, e.g. google-auth's AuthorizedSession, which puts a
    fresh OAuth token on every request (see gameday.adapters.google_auth). `scope` holds label
    matchers added to every series selector this client is given (GMP's `cluster`, see
    gameday.promql.scoped). `timeout_s` bounds each request's read and `connect_timeout_s` its
    connection; a refused connection is retried `retries` times.
    """

    def __init__(self, url: str, *, headers: Mapping[str, str] | None = None,
                 auth: tuple[str, str] | None = None, session: requests.Session | None = None,
                 scope: Mapping[str, str] | None = None, timeout_s: float = 10.0,
                 connect_timeout_s: float = 3.0, retries: int = 1) -> None:
        if not url.startswith(("http://", "https://")):
            raise SloError(f"Prometheus URL {url!r} must start with http:// or https://")
        self.url = url.rstrip("/")
        self._local = threading.local()
        self._lock = threading.Lock()
        self.warnings: list[PromWarning] = []
        self.scope: dict[str, str] = dict(scope or {})
        session = session if session is not None else requests.Session()
        session.hooks["response"].append(self._keep_response)
        self._client = PrometheusConnect(
            url=self.url, headers=dict(headers or {}), auth=auth, session=session,
            timeout=(connect_timeout_s, timeout_s),  # type: ignore[arg-type]  # requests takes it
            retry=Retry(total=retries, connect=retries, read=0, status=0, redirect=0,
                        backoff_factor=0.1, raise_on_status=False),
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PromClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- queries ---------------------------------------------------------------------------------
    def query(self, promql: str, at: Instant | None = None) -> list[Sample]:
        """An instant query at `at` (default: now). Only vector/scalar results."""
        ts = time.time() if at is None else unix(at)
        kind, data = self._call(promql, self._client.custom_query, promql,
                                params={"time": _fmt(ts)})
        if kind == "scalar":
            return [Sample({}, float(data[1]))]
        if kind != "vector":
            raise SloError(f"query {promql!r} returned a {kind}, not a vector: use "
                           "query_range() or samples() for range vectors")
        return [Sample(item["metric"], float(item["value"][1])) for item in data]

    def query_range(self, promql: str, start: Instant, end: Instant,
                    step: float) -> list[Series]:
        """A range query evaluated every `step` seconds from `start` to `end` (both included)."""
        if step <= 0:
            raise SloError(f"query_range step must be > 0 s, got {step}")
        s, e = unix(start), unix(end)
        # start/end in params win over the client's own, which are rounded to whole seconds.
        _kind, data = self._call(
            promql, self._client.custom_query_range, promql,
            dt.datetime.fromtimestamp(s, dt.UTC), dt.datetime.fromtimestamp(e, dt.UTC),
            f"{step:g}", params={"start": _fmt(s), "end": _fmt(e)})
        return _series(data)

    def samples(self, selector: str, start: Instant, end: Instant) -> list[Series]:
        """Raw scraped samples of `selector` (scoped) with timestamps in [start, end]: no
        extrapolation, no lookback; what counter math over an exact window needs."""
        selector = scoped(selector, self.scope)
        s, e = unix(start), unix(end)
        if e < s:
            raise SloError(f"samples of {selector}: end {e} is before start {s}")
        promql = f"{selector}[{duration(e - s)}]"
        kind, data = self._call(promql, self._client.custom_query, promql,
                                params={"time": _fmt(e)})
        if kind != "matrix":
            raise SloError(f"{selector!r} is not a series selector (got a {kind})")
        return _series(data)

    # -- waiting ---------------------------------------------------------------------------------
    def wait_for_scrape(self, ts: Instant, *, selector: str = "up", timeout_s: float = 30.0,
                        interval_s: float = 0.5) -> float:
        """Block until every target matching `selector` has a sample newer than `ts`.

        Why: a phase's last seconds are only in Prometheus after the next scrape; judging
        before it would miss them. Returns the oldest latest-scrape time; ConditionTimeout if
        that does not pass `ts` within `timeout_s` (a target down for good still gets `up`
        samples, so this only times out if Prometheus itself stopped scraping).
        """
        target = unix(ts)
        selector = scoped(selector, self.scope)
        promql = f"min(timestamp({selector}))"
        deadline = time.monotonic() + timeout_s
        last: float | None = None
        while True:
            found = self.query(promql)
            last = found[0].value if found and not math.isnan(found[0].value) else None
            if last is not None and last > target:
                return last
            left = deadline - time.monotonic()
            if left <= 0:
                seen = "no matching targets" if last is None else f"latest scrape at {last:.3f}"
                raise ConditionTimeout(f"Prometheus at {self.url} to scrape {selector} after "
                                       f"{target:.3f}", timeout_s, seen)
            time.sleep(min(interval_s, left))

    # -- plumbing --------------------------------------------------------------------------------
    def _keep_response(self, response: requests.Response, *_args: Any,
                       **_kwargs: Any) -> requests.Response:
        self._local.response = response
        return response

    def _call(self, promql: str, fn: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
        self._local.response = None
        try:
            fn(*args, **kwargs)
        except requests.JSONDecodeError as exc:
            raise PrometheusQueryError(
                f"{self.url} answered query {promql!r} with something that is not JSON: is it "
                "the base URL of a Prometheus HTTP API (without /api/v1)?") from exc
        except requests.RequestException as exc:
            raise PrometheusUnreachable(
                f"Prometheus at {self.url} did not answer query {promql!r}: {exc}. Is it "
                "running, and is the URL right (--prometheus-url)?") from exc
        except PrometheusApiClientException as exc:
            raise self._http_error(promql) from exc
        body = self._local.response.json()
        for text in body.get("warnings", []):
            log.warning("Prometheus warning for %s: %s", promql, text)
            with self._lock:
                self.warnings.append(PromWarning(promql, text))
        return body["data"]["resultType"], body["data"]["result"]

    def _http_error(self, promql: str) -> PrometheusQueryError:
        response: requests.Response = self._local.response
        try:
            body = response.json()
            detail = f"{body.get('errorType', 'error')}: {body['error']}"
        except (ValueError, KeyError, TypeError):
            detail = response.text[:300].strip() or "(empty body)"
        hint = ""
        if response.status_code in (401, 403):
            hint = (" Check the credentials: for Google Managed Prometheus use "
                    "--prometheus-auth google (Application Default Credentials with "
                    "monitoring.read), or pass an 'Authorization: Bearer <token>' header "
                    "(--prometheus-header) to another server.")
        return PrometheusQueryError(f"Prometheus at {self.url} answered HTTP "
                                    f"{response.status_code} to query {promql!r}: {detail}.{hint}")


def _series(data: list[dict[str, Any]]) -> list[Series]:
    # Values are strings; float() also reads Prometheus's "NaN", "+Inf" and "-Inf".
    return [Series(item["metric"], [(float(t), float(v)) for t, v in item["values"]])
            for item in data]
