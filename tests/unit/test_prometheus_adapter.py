"""The Prometheus adapter over real loopback HTTP: headers, errors, parsing, waiting.

Answers come from the recording of a real Prometheus 2.42 (data/prometheus/record.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gameday.adapters.prometheus import (
    PromClient,
    PrometheusQueryError,
    PrometheusUnreachable,
    duration,
)
from gameday.errors import SloError
from gameday.slo import Availability, Status, Window
from gameday.slo.testing import Exchange, PromReplay

RECORDING = Path(__file__).parent / "data" / "prometheus" / "outage.json"
DATA = json.loads(RECORDING.read_text())
RECOVERY = next(w for w in DATA["meta"]["windows"] if w["phase"] == "recovery")
START = dt.datetime.fromisoformat(RECOVERY["start"])
END = dt.datetime.fromisoformat(RECOVERY["end"])


@pytest.fixture
def replay() -> Iterator[PromReplay]:
    server = PromReplay(Exchange.load(RECORDING))
    with server.serve():
        yield server


def test_custom_headers_and_basic_auth_reach_the_server(replay: PromReplay) -> None:
    token = {"Authorization": "Bearer ya29.test-token", "X-Scope-OrgID": "team-a"}
    with PromClient(replay.url, headers=token) as prom:
        prom.query_range("sum(gameday_load_requests_total)", START, END, 1)
    with PromClient(replay.url, auth=("alice", "s3cret")) as prom:
        prom.query_range("sum(gameday_load_requests_total)", START, END, 1)
    first, second = replay.seen
    assert first.headers["Authorization"] == "Bearer ya29.test-token"
    assert first.headers["X-Scope-OrgID"] == "team-a"
    assert second.headers["Authorization"] == "Basic YWxpY2U6czNjcmV0"  # alice:s3cret


def test_query_range_returns_float_points_with_exact_bounds(replay: PromReplay) -> None:
    with PromClient(replay.url) as prom:
        (series,) = prom.query_range("sum(gameday_load_requests_total)", START, END, 1)
    (seen,) = replay.seen
    assert seen.params["start"] == f"{START.timestamp():.3f}"  # not rounded to whole seconds
    assert series.labels == {}
    times = [t for t, _ in series.points]
    assert times == sorted(times) and times[0] == pytest.approx(START.timestamp(), abs=1e-3)
    values = [v for _, v in series.points]
    assert all(isinstance(v, float) for v in values)
    assert values == sorted(values) and values[-1] > values[0]  # a counter over the outage


def test_bad_promql_names_the_query_and_prometheus_message(replay: PromReplay) -> None:
    bad = DATA["meta"]["bad_promql"]
    with PromClient(replay.url) as prom, pytest.raises(PrometheusQueryError) as info:
        prom.query(bad, at=END)
    text = str(info.value)
    assert replay.url in text and repr(bad) in text
    assert "HTTP 400" in text and "parse error: unclosed left parenthesis" in text
    assert isinstance(info.value, SloError)


def test_unrecorded_query_fails_naming_it(replay: PromReplay) -> None:
    with PromClient(replay.url) as prom, pytest.raises(PrometheusQueryError,
                                                       match="no recorded answer"):
        prom.query("up", at=END)


def test_unreachable_prometheus_is_a_clear_error_quickly() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    with PromClient(url, timeout_s=2) as prom, pytest.raises(PrometheusUnreachable) as info:
        prom.query("up")
    assert time.monotonic() - t0 < 5
    assert url in str(info.value) and "'up'" in str(info.value)
    assert "Is it running" in str(info.value)


def test_warnings_of_partial_data_make_a_pass_inconclusive(tmp_path: Path) -> None:
    """A recorded answer with a `warnings` field added, as Thanos or GMP send on partial data."""
    exchanges = [dataclasses.replace(e, body={**e.body, "warnings": ["store x unavailable"]})
                 for e in Exchange.load(RECORDING)]
    baseline = next(w for w in DATA["meta"]["windows"] if w["phase"] == "baseline")
    window = Window("baseline", dt.datetime.fromisoformat(baseline["start"]),
                    dt.datetime.fromisoformat(baseline["end"]))
    with PromReplay(exchanges).serve() as url, PromClient(url) as prom:
        verdict = Availability.from_load(0.95).evaluate(prom, window)
    assert verdict.status is Status.INCONCLUSIVE
    assert "partial: store x unavailable" in verdict.message
    assert prom.warnings and prom.warnings[0].text == "store x unavailable"


def test_naive_datetimes_and_bad_urls_are_refused() -> None:
    with pytest.raises(SloError, match="timezone-aware"):
        PromClient("http://127.0.0.1:9").query("up", at=dt.datetime(2024, 1, 1))
    with pytest.raises(SloError, match="must start with http"):
        PromClient("127.0.0.1:9090")


def test_durations_are_whole_milliseconds() -> None:
    assert duration(6.5034) == "6503ms"
    assert duration(0.0001) == "1ms"


def test_a_non_prometheus_url_is_named_as_such() -> None:
    """A 200 answer that is not JSON (a UI page, a login proxy) is not 'unreachable'."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>login</html>")

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with PromClient(url) as prom, pytest.raises(PrometheusQueryError, match="not JSON"):
            prom.query("up")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
