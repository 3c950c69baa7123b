"""Locust's output files -> LoadResult, on files written the way Locust 2.47 writes them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from gameday.load import LoadError
from gameday.load.stats import percentile, read_result

HISTORY_HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,"
    "99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
    "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
    "Total Average Content Size"
)


def _entry(method: str, name: str, per_s: dict[int, int], fail_per_s: dict[int, int],
           response_times: dict[int, int]) -> dict:
    n = sum(per_s.values())
    return {
        "name": name, "method": method, "num_requests": n, "num_none_requests": 0,
        "num_failures": sum(fail_per_s.values()), "start_time": min(per_s) + 0.5,
        "last_request_timestamp": max(per_s) + 0.5, "total_response_time": 1.0,
        "max_response_time": max(response_times), "min_response_time": min(response_times),
        "total_content_length": 0,
        "response_times": {str(k): v for k, v in response_times.items()},
        "num_reqs_per_sec": {str(k): v for k, v in per_s.items()},
        "num_fail_per_sec": {str(k): v for k, v in fail_per_s.items()},
    }


def _history_row(ts: int, users: int, p50: str, p95: str, p99: str) -> str:
    return (f"{ts},{users},,Aggregated,0,0,{p50},0,0,0,0,{p95},0,{p99},0,0,0,"
            "0,0,0,0,0,0,0")


def test_percentile_takes_the_rank_in_the_histogram() -> None:
    histogram = Counter({1: 90, 10: 9, 500: 1})
    assert percentile(histogram, 0.5) == 1.0
    assert percentile(histogram, 0.9) == 1.0
    assert percentile(histogram, 0.95) == 10.0
    assert percentile(histogram, 0.99) == 10.0
    assert percentile(histogram, 1.0) == 500.0
    assert percentile(Counter(), 0.5) is None


def test_result_merges_entries_and_fills_silent_seconds(tmp_path: Path) -> None:
    prefix = tmp_path / "load"
    entries = [
        _entry("GET", "/", {100: 50, 101: 40, 104: 10}, {}, {2: 95, 30: 5}),
        _entry("GET", "/bad", {100: 10, 104: 5}, {100: 10, 104: 5}, {3: 15}),
    ]
    (tmp_path / "load.json").write_text(json.dumps(entries))
    (tmp_path / "load_stats_history.csv").write_text("\n".join([
        HISTORY_HEADER, _history_row(99, 0, "N/A", "N/A", "N/A"),
        "100,5,GET,/,0,0,2,0,0,0,0,2,0,2,0,0,0,0,0,0,0,0,0,0",
        _history_row(100, 5, "2", "30", "30"), _history_row(102, 5, "3", "40", "50"),
    ]) + "\n")
    (tmp_path / "load_failures.json").write_text(json.dumps([
        {"method": "GET", "name": "/bad", "error": "HTTPError('500 Server Error')",
         "occurrences": 15},
    ]))
    result = read_result(prefix)
    assert (result.requests, result.failures) == (115, 15)
    assert result.failures_by_error == {"HTTPError('500 Server Error')": 15}
    assert result.by_request["GET /bad"].failures == 15
    assert result.duration_s == pytest.approx(4.0)
    assert result.rps == pytest.approx(115 / 4.0)
    assert (result.p50_ms, result.p95_ms, result.p99_ms) == (2.0, 3.0, 30.0)
    timeline = result.timeline
    assert [p.ts for p in timeline] == [100, 101, 102, 103, 104]
    assert [p.rps for p in timeline] == [60, 40, 0, 0, 15]  # the outage stays visible as zeros
    assert [p.failures_per_s for p in timeline] == [10, 0, 0, 0, 5]
    assert [p.p95_ms for p in timeline] == [30, 30, 40, 40, 40]  # latest history row so far
    assert timeline[0].users == 5


def test_missing_json_says_where_to_look(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"locust\.log"):
        read_result(tmp_path / "load")
