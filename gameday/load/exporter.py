"""Client-side load metrics for Prometheus, from inside the Locust process.

Locust's own numbers reach us only at the end (JSON) or as 10-second sliding windows (CSV);
an SLO over "the error rate seen by clients during the fault" needs counters and a latency
histogram that Prometheus scrapes like any other target. This module is imported by the run's
generated locustfile; it listens to every request and serves:

    gameday_load_requests_total{method,name,code,code_class,gameday_run}
    gameday_load_request_duration_seconds{method,name,gameday_run}   (histogram, seconds)

code_class is "2xx".."5xx" from the status code, or "error" with code "0" when no response
came back (connection refused or reset, timeout). gameday_run is the load run's id (from
$GAMEDAY_LOAD_RUN): the series name their run themselves, whatever job or target labels the
scraping Prometheus adds (file_sd on the runner, pod annotations, PodMonitoring, PodMonitor).

Why no prometheus_client: in cluster placement this file runs in the official
`locustio/locust` image, which ships Locust's own dependencies only. The exposition format of
two metric families is a few lines; gevent's WSGI server (gevent is Locust's own dependency)
serves it as a greenlet that never blocks the users.

The server listens at $GAMEDAY_LOAD_METRICS_ADDR (default 127.0.0.1; a pod's IP in the
cluster) on $GAMEDAY_LOAD_METRICS_PORT; without a port (a master process, which sends no
requests itself) nothing is served. With workers, each worker serves its own port and
Prometheus sums them, so no count waits for Locust's 3-second worker reports.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections import defaultdict

from locust import events

from gameday.load import metrics
from gameday.load.wrapper import ADDR_ENV, PORT_ENV, RUN_ENV

RUN = os.environ.get(RUN_ENV, "")
_requests: dict[tuple[str, str, str, str], int] = defaultdict(int)
# (method, name) -> [count per bucket (non-cumulative, +Inf last), sum of seconds]
_durations: dict[tuple[str, str], list] = {}


def classify(status_code: int | None) -> tuple[str, str]:
    """(code, code_class) of a request; no status (or 0) means no response: ("0", "error")."""
    if not status_code or not 100 <= status_code <= 599:
        return "0", "error"
    return str(status_code), f"{status_code // 100}xx"


def observe(method: str, name: str, status_code: int | None, seconds: float) -> None:
    """Count one finished request (also what the unit tests feed)."""
    code, code_class = classify(status_code)
    _requests[(method, name, code, code_class)] += 1
    entry = _durations.setdefault((method, name), [[0] * (len(metrics.BUCKETS) + 1), 0.0])
    entry[0][bisect_left(metrics.BUCKETS, seconds)] += 1  # le is inclusive: bisect_left
    entry[1] += seconds


def _labels(**pairs: str) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")

    return ",".join(f'{k}="{escape(v)}"' for k, v in {**pairs, "gameday_run": RUN}.items())


def render() -> str:
    """The Prometheus text exposition (version 0.0.4) of both families."""
    lines = [f"# HELP {metrics.REQUESTS}_total Requests sent by the game day's load, by "
             "outcome as the client saw it.", f"# TYPE {metrics.REQUESTS}_total counter"]
    for (method, name, code, code_class), count in sorted(_requests.items()):
        labels = _labels(method=method, name=name, code=code, code_class=code_class)
        lines.append(f"{metrics.REQUESTS}_total{{{labels}}} {count}")
    lines += [f"# HELP {metrics.DURATION} Response time seen by the load's clients, including "
              "failed requests.", f"# TYPE {metrics.DURATION} histogram"]
    for (method, name), (counts, total) in sorted(_durations.items()):
        cumulative = 0
        for bound, count in zip((*map(repr, metrics.BUCKETS), "+Inf"), counts, strict=True):
            cumulative += count
            labels = _labels(method=method, name=name, le=bound)
            lines.append(f"{metrics.DURATION}_bucket{{{labels}}} {cumulative}")
        labels = _labels(method=method, name=name)
        lines += [f"{metrics.DURATION}_sum{{{labels}}} {total!r}",
                  f"{metrics.DURATION}_count{{{labels}}} {cumulative}"]
    return "\n".join(lines) + "\n"


def _app(environ: dict, start_response) -> list[bytes]:
    if environ.get("PATH_INFO") != "/metrics":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"only /metrics is served here\n"]
    body = render().encode()
    start_response("200 OK", [("Content-Type", "text/plain; version=0.0.4; charset=utf-8"),
                              ("Content-Length", str(len(body)))])
    return [body]


@events.init.add_listener
def _serve(environment, **_kwargs) -> None:
    port = os.environ.get(PORT_ENV)
    if port:
        from gevent.pywsgi import WSGIServer

        server = WSGIServer((os.environ.get(ADDR_ENV) or "127.0.0.1", int(port)), _app,
                            log=None)
        server.start()  # binds now: a taken port fails the process at start, visibly


@events.request.add_listener
def _count(request_type, name, response_time, response=None, **_kwargs) -> None:
    observe(request_type, name, getattr(response, "status_code", None),
            (response_time or 0) / 1000.0)
