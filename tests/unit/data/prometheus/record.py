"""Regenerate outage.json: drive a known outage through a real Prometheus and record its answers.

    .venv/bin/python tests/unit/data/prometheus/record.py      # ~35 s, from /work/main

The exporter counts requests we decide (prometheus-client, the team's load metric names),
/usr/bin/prometheus scrapes it every second, and every SLO the tests evaluate is evaluated here
through `PromReplay(upstream=...)`, which keeps each exchange. `meta` holds the windows and
what was driven in them (the truth the tests compare with). Phases are separated by idle gaps
longer than a scrape interval so each window's counts are exactly known.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path

from gameday.adapters.prometheus import PromClient, PrometheusQueryError
from gameday.slo import Availability, BurnRate, Latency, RecoveryTime, Window
from gameday.slo.testing import DrivenExporter, PromReplay, run_prometheus

HERE = Path(__file__).parent
OK_S, SLOW_S, TIMEOUT_S = 0.04, 0.4, 2.0
BAD_PROMQL = "sum(rate(gameday_load_requests_total[1m])"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def window(phase: str, start: dt.datetime, last: dt.datetime) -> Window:
    # 1.5 scrape intervals after the last request: a scrape inside the window has seen it.
    return Window(phase, start, last + dt.timedelta(seconds=1.5))


def baseline(exp: DrivenExporter) -> Window:
    """100 requests in 10 ticks over 5 s; 3 answered 503 (their series is born mid-window)."""
    start = now()
    for tick in range(10):
        failed = 1 if tick in (2, 5, 8) else 0
        exp.request(200, OK_S, 10 - failed)
        if failed:
            exp.request(503, 0.2)
        time.sleep(0.5)
    return window("baseline", start, now())


def fault(exp: DrivenExporter) -> Window:
    """40 requests: 30 x 200, 6 x 503 (slow), 4 without an answer (timeouts)."""
    start = now()
    for tick in range(4):
        exp.request(200, OK_S, 7 if tick < 2 else 8)
        exp.request(503, SLOW_S, 2 if tick < 2 else 1)
        exp.request(0, TIMEOUT_S, 1)
        time.sleep(0.5)
    return window("fault", start, now())


def outage(exp: DrivenExporter) -> tuple[Window, float]:
    """20 rps: 3 s good, then 5 s of 50% 503 at 0.4 s (injected), then 8 s good."""
    for _ in range(12):
        exp.request(200, OK_S, 5)
        time.sleep(0.25)
    injected = now()
    for _ in range(20):
        exp.request(200, SLOW_S, 3)
        exp.request(503, SLOW_S, 2)
        time.sleep(0.25)
    errors_end = now()
    for _ in range(32):
        exp.request(200, OK_S, 5)
        time.sleep(0.25)
    return Window("recovery", injected, now()), (errors_end - injected).total_seconds()


WINDOW_SLOS = [Availability.from_load(0.99), Latency.from_load(0.95, 0.25),
               Latency.from_load(0.99, 0.15), BurnRate(0.99, 14.4),
               Availability(0.99, 'gameday_load_requests_total{job="nope"}', name="empty")]
RECOVERY_SLOS = [RecoveryTime(Availability.from_load(0.99), bound_s=10, hold_s=3,
                              rolling_s=3),
                 RecoveryTime(Latency.from_load(0.95, 0.25), bound_s=10, hold_s=3,
                              rolling_s=3, name="latency-recovery")]


def main() -> None:
    exp = DrivenExporter()
    try:
        with tempfile.TemporaryDirectory() as tmp, \
                run_prometheus(Path(tmp), [exp.target]) as upstream:
            PromClient(upstream).wait_for_scrape(now(), timeout_s=10)
            windows = [baseline(exp)]
            time.sleep(2.0)
            windows.append(fault(exp))
            idle_end = windows[-1].end + dt.timedelta(seconds=2)
            windows.append(Window("idle", windows[-1].end, idle_end))
            time.sleep((idle_end - now()).total_seconds() + 0.5)
            recovery, truth_s = outage(exp)
            PromClient(upstream).wait_for_scrape(recovery.end + dt.timedelta(seconds=0.5))
            replay = PromReplay(upstream=upstream)
            with replay.serve() as url, PromClient(url) as prom:
                for w in windows:
                    for slo in WINDOW_SLOS:
                        print(slo.evaluate(prom, w).message)
                for slo in RECOVERY_SLOS:
                    print(slo.evaluate(prom, recovery).message)
                prom.query_range("sum(gameday_load_requests_total)", recovery.start,
                                 recovery.end, 1)
                try:
                    prom.query(BAD_PROMQL, at=recovery.end)
                except PrometheusQueryError as exc:
                    print(exc)
    finally:
        exp.close()
    replay.save(HERE / "outage.json", {
        "windows": [w.to_dict() for w in [*windows, recovery]],
        "driven": {"baseline": {"requests": 100, "failed": 3},
                   "fault": {"requests": 40, "failed": 10, "no_answer": 4},
                   "idle": {"requests": 0, "failed": 0},
                   "recovery": {"errors_for_s": truth_s}},
        "bad_promql": BAD_PROMQL,
        "prometheus": "Debian prometheus 2.42, scrape_interval 1s",
    })


if __name__ == "__main__":
    main()
