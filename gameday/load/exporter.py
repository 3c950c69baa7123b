"""Client-side load metrics for Prometheus, from inside the Locust process.

Locust's own numbers reach us only at the end (JSON) or as 10-second sliding windows (CSV);
an SLO over "the error rate seen by clients during the fault" needs counters and a latency
histogram that Prometheus scrapes like any other target. This module is imported by the run's
generated locustfile; it listens to every request and serves:

    gameday_load_requests_total{method,name,code,code_class}
    gameday_load_request_duration_seconds{method,name}   (histogram, seconds)

code_class is "2xx".."5xx" from the status code, or "error" with code "0" when no response
came back (connection refused or reset, timeout). The server listens on 127.0.0.1 at the port
in $GAMEDAY_LOAD_METRICS_PORT, chosen by LoadRun; without that variable (a master process,
which sends no requests itself) nothing is served. With workers, each worker serves its own
port and Prometheus sums them, so no count waits for Locust's 3-second worker reports.

prometheus_client serves from a thread; under Locust's gevent monkey-patching that thread is
a greenlet and its socket cooperative, so it never blocks the users.
"""

from __future__ import annotations

import os

from locust import events
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    start_http_server,
)

from gameday.load import metrics
from gameday.load.wrapper import PORT_ENV

disable_created_metrics()  # this process is ours: keep /metrics to the series we define
REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    metrics.REQUESTS,
    "Requests sent by the game day's load, by outcome as the client saw it.",
    ("method", "name", "code", "code_class"),
    registry=REGISTRY,
)
DURATION = Histogram(
    metrics.DURATION,
    "Response time seen by the load's clients, including failed requests.",
    ("method", "name"),
    buckets=metrics.BUCKETS,
    registry=REGISTRY,
)


def classify(status_code: int | None) -> tuple[str, str]:
    """(code, code_class) of a request; no status (or 0) means no response: ("0", "error")."""
    if not status_code or not 100 <= status_code <= 599:
        return "0", "error"
    return str(status_code), f"{status_code // 100}xx"


@events.init.add_listener
def _serve(environment, **_kwargs) -> None:
    port = os.environ.get(PORT_ENV)
    if port:
        start_http_server(int(port), addr="127.0.0.1", registry=REGISTRY)


@events.request.add_listener
def _count(request_type, name, response_time, response=None, **_kwargs) -> None:
    code, code_class = classify(getattr(response, "status_code", None))
    REQUESTS.labels(request_type, name, code, code_class).inc()
    DURATION.labels(request_type, name).observe((response_time or 0) / 1000.0)
