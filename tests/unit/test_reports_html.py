"""The run page: self-contained, readable content, honest about missing Prometheus data."""

from __future__ import annotations

import re
import time
from pathlib import Path

from gameday.reports.build import write_reports
from gameday.reports.charts import plotly_js, timeline_figure
from gameday.reports.html import render_index
from gameday.reports.model import ZoneReadiness
from gameday.reports.redact import Redactor
from gameday.reports.testing import sample_run

EXTERNAL = re.compile(r"""\b(?:src|href)\s*=\s*\\?["']?\s*(?:https?:)?//""", re.IGNORECASE)


def test_page_is_self_contained_with_no_external_src_or_href(tmp_path: Path) -> None:
    page = render_index(sample_run(tmp_path / "r1"), tmp_path / "r1")
    assert EXTERNAL.findall(page) == []
    assert "cdn.plot.ly/plotly" not in page
    assert plotly_js()[:2000] in page  # plotly.js inline, once
    assert page.count("Plotly.newPlot") == 1  # one chart: the plain test has no evidence


def test_page_shows_verdicts_slos_figures_events_and_environment(tmp_path: Path) -> None:
    page = render_index(sample_run(tmp_path / "r1", fail_fault_slo=True), tmp_path / "r1")
    assert 'class="badge v-fail">fail' in page
    assert 'class="badge v-error">error' in page  # the ValueError test
    assert "91.000%" in page and "&gt;= 95.0%" in page  # measured and target, escaped
    assert "gameday_load_requests_total{gameday_run!=&#34;&#34;}[30s]" in page  # PromQL
    assert "<details><summary>PromQL</summary>" in page
    assert "recovery_time_s" in page and "4.0 s" in page
    assert "zone zone-b: every instance stopped" in page
    assert "10:00:11.000" in page  # event time, to the millisecond
    assert "gameday-lab" in page
    assert "fast profile: timings are not GKE's" in page  # template text


def test_gke_profile_page_has_no_fast_warning(tmp_path: Path) -> None:
    page = render_index(sample_run(tmp_path / "r1", profile="gke"), tmp_path / "r1")
    assert "fast profile" not in page


def test_chart_has_load_zones_phases_and_fault_markers(tmp_path: Path) -> None:
    test = sample_run(tmp_path / "r1").tests[0]
    fig = timeline_figure(test)
    names = [trace.name for trace in fig.data]
    assert names == ["requests/s", "failures/s", "error rate %", "p95 ms", "p99 ms",
                     "zone-a", "zone-b", "zone-c"]
    error_rate = fig.data[2].y
    assert max(error_rate) == 100 * 40 / 150
    assert min(fig.data[6].y) == 0.0  # zone-b went dark
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert len(rects) == 3 and len(lines) == 2
    texts = [a.text for a in fig.layout.annotations]
    assert "zone_outage inject" in texts and "zone_outage revert" in texts


def test_prometheus_unreachable_is_said_on_the_chart_and_the_page_renders(
        tmp_path: Path) -> None:
    run = sample_run(tmp_path / "r1")
    run.tests[0].zones = ZoneReadiness("q", error="Prometheus could not be asked: refused")
    page = render_index(run, tmp_path / "r1")
    assert "ready pods per zone unavailable" in page
    assert "Prometheus could not be asked: refused" in page


def test_attachments_link_relative_inside_the_run_folder(tmp_path: Path) -> None:
    run_dir = tmp_path / "r1"
    run = sample_run(run_dir)
    run.tests[0].evidence["attachments"] = [
        {"name": "locust stats history", "mime": "text/csv",
         "path": str(run_dir / "tests" / "t0" / "load" / "load_stats_history.csv")},
        {"name": "elsewhere", "mime": "text/plain", "path": "/var/log/x.log"}]
    page = render_index(run, run_dir)
    assert 'href="tests/t0/load/load_stats_history.csv"' in page
    assert "/var/log/x.log" in page and 'href="/var/log' not in page


def test_reports_of_a_few_tests_take_under_two_seconds(tmp_path: Path) -> None:
    run_dir = tmp_path / "reports" / "20260105-100000-abcd"
    run = sample_run(run_dir)
    run.tests += sample_run(run_dir, fail_fault_slo=True).tests[:1] * 3
    write_reports(sample_run(run_dir), run_dir, Redactor())  # warm imports and templates
    began = time.perf_counter()
    written = write_reports(run, run_dir, Redactor())
    assert time.perf_counter() - began < 2.0
    assert written.index.stat().st_size > 4_000_000  # plotly.js is inline
