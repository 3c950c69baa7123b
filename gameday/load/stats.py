"""Locust's output files turned into typed figures: run totals and a per-second timeline.

Sources, and why each:
- the JSON file (`--json-file`) is written once at exit with every entry's exact counters, a
  response-time histogram and exact per-second request and failure counts: totals,
  percentiles and the timeline's rps come from it;
- `_stats_history.csv` (`--csv-full-history`) has one "Aggregated" row a second with the user
  count and Locust's *current* percentiles, which are a ~10 s sliding window: the timeline's
  users and percentiles come from it, so a latency spike shows up smeared over ~10 s there
  (the Prometheus histogram from the exporter is the sharp one);
- `_failures.json` (written at exit by gameday/load/failures.py, as Locust's own
  `_failures.csv` misses the last second) counts failures by error message.
"""

from __future__ import annotations

import csv
import json
import math
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from gameday.errors import LoadError


@dataclass(frozen=True)
class TimelinePoint:
    """One second of the run. Percentiles (ms) are Locust's ~10 s sliding window, or None."""

    ts: int  # unix second
    rps: float  # requests completed in this second
    failures_per_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    users: int | None


@dataclass(frozen=True)
class RequestTotals:
    """Totals of one request name (as Locust groups them: method and name)."""

    method: str
    name: str
    requests: int
    failures: int


@dataclass(frozen=True)
class LoadResult:
    """What the load saw over the whole run (all workers together)."""

    requests: int
    failures: int
    failures_by_error: dict[str, int]  # Locust's error text -> occurrences
    duration_s: float  # first request start .. last request end
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    timeline: list[TimelinePoint]
    by_request: dict[str, RequestTotals]  # "GET /checkout" -> totals

    @property
    def failure_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


def read_result(prefix: Path) -> LoadResult:
    """Read `<prefix>.json`, `<prefix>_stats_history.csv` and `<prefix>_failures.csv`."""
    json_path = prefix.with_name(prefix.name + ".json")
    try:
        entries = json.loads(json_path.read_text())
    except (OSError, ValueError) as exc:
        raise LoadError(
            f"Locust's final stats {json_path} are missing or unreadable ({exc}); it was "
            "probably killed before it could write them: see locust.log in the same folder"
        ) from exc
    histogram: Counter[int] = Counter()
    per_s: Counter[int] = Counter()
    fail_per_s: Counter[int] = Counter()
    for entry in entries:
        histogram.update({int(k): int(v) for k, v in entry["response_times"].items()})
        per_s.update({int(k): int(v) for k, v in entry["num_reqs_per_sec"].items()})
        fail_per_s.update({int(k): int(v) for k, v in entry["num_fail_per_sec"].items()})
    requests = sum(int(e["num_requests"]) for e in entries)
    starts = [e["start_time"] for e in entries if e["num_requests"]]
    ends = [e["last_request_timestamp"] for e in entries if e["last_request_timestamp"]]
    duration = max(ends) - min(starts) if starts and ends else 0.0
    return LoadResult(
        requests=requests,
        failures=sum(int(e["num_failures"]) for e in entries),
        failures_by_error=_failures_by_error(prefix.with_name(prefix.name + "_failures.json")),
        duration_s=duration,
        rps=requests / duration if duration > 0 else 0.0,
        p50_ms=percentile(histogram, 0.50),
        p95_ms=percentile(histogram, 0.95),
        p99_ms=percentile(histogram, 0.99),
        timeline=_timeline(per_s, fail_per_s,
                           prefix.with_name(prefix.name + "_stats_history.csv")),
        by_request={
            f"{e['method']} {e['name']}": RequestTotals(
                e["method"], e["name"], int(e["num_requests"]), int(e["num_failures"]))
            for e in entries
        },
    )


def percentile(histogram: Counter[int], q: float) -> float | None:
    """The smallest recorded response time (ms, as Locust rounded it) with >= q of requests at
    or below it; None without requests."""
    total = sum(histogram.values())
    if not total:
        return None
    values = sorted(histogram)
    cumulative = list(accumulate(histogram[v] for v in values))
    return float(values[bisect_left(cumulative, math.ceil(q * total))])


def _failures_by_error(path: Path) -> dict[str, int]:
    if not path.exists():
        return {}
    by_error: Counter[str] = Counter()
    for error in json.loads(path.read_text()):
        by_error[error["error"]] += int(error["occurrences"])
    return dict(by_error)


def _timeline(per_s: Counter[int], fail_per_s: Counter[int],
              history: Path) -> list[TimelinePoint]:
    """Every second from the first to the last request, including silent ones (an outage
    that stops all responses must show as zeros, not as a gap)."""
    rows = _history_rows(history)
    seconds = sorted(set(per_s) | set(fail_per_s))
    if not seconds:
        return []
    points = []
    row = None
    later = iter(rows)
    upcoming = next(later, None)
    for ts in range(seconds[0], seconds[-1] + 1):
        while upcoming is not None and int(upcoming["Timestamp"]) <= ts:
            row, upcoming = upcoming, next(later, None)
        points.append(TimelinePoint(
            ts=ts,
            rps=float(per_s.get(ts, 0)),
            failures_per_s=float(fail_per_s.get(ts, 0)),
            p50_ms=_ms(row, "50%"),
            p95_ms=_ms(row, "95%"),
            p99_ms=_ms(row, "99%"),
            users=int(row["User Count"]) if row else None,
        ))
    return points


def _history_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [r for r in csv.DictReader(f) if r["Name"] == "Aggregated"]


def _ms(row: dict[str, str] | None, column: str) -> float | None:
    if row is None or row[column] in ("", "N/A"):
        return None
    return float(row[column])
