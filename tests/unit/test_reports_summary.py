"""summary.json, junit.xml and the trend across runs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from gameday.reports.build import write_reports
from gameday.reports.redact import Redactor
from gameday.reports.testing import sample_run


def test_summary_json_has_run_and_tests(tmp_path: Path) -> None:
    run_dir = tmp_path / "reports" / "20260105-100000-abcd"
    write_reports(sample_run(run_dir, fail_fault_slo=True), run_dir, Redactor())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["run_id"] == "20260105-100000-abcd"
    assert summary["counts"] == {"pass": 0, "fail": 1, "inconclusive": 0, "error": 1,
                                 "skipped": 0}
    scenario = summary["tests"][0]
    assert scenario["verdict"] == "fail"
    assert scenario["figures"]["rescheduled_s"] == 21.5
    assert scenario["parameters"]["fault_s"] == 30.0
    assert summary["environment"]["timing_profile"] == "fast"


def test_junit_has_cases_failures_errors_and_slo_properties(tmp_path: Path) -> None:
    run_dir = tmp_path / "reports" / "20260105-100000-abcd"
    write_reports(sample_run(run_dir, fail_fault_slo=True), run_dir, Redactor())
    suite = ET.parse(run_dir / "junit.xml").getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "1")
    scenario, plain = suite.findall("testcase")
    assert scenario.get("name") == "test_zone_outage[zone-b]"
    assert scenario.get("classname") == "scenarios.zone_outage"
    props = {p.get("name"): p.get("value") for p in scenario.iter("property")}
    assert props["gameday.verdict"] == "fail"
    assert props["slo.availability.fault"] == "fail: 91.000% (target >= 95.0%)"
    assert props["figure.recovery_time_s"] == "4.0"
    assert scenario.find("failure") is not None
    assert "[FAIL] availability during fault" in scenario.findtext("system-out")
    assert plain.find("error").get("message") == "ValueError: not an assertion"


def test_trend_collects_every_run_oldest_first_and_skips_broken_summaries(
        tmp_path: Path) -> None:
    root = tmp_path / "reports"
    for run_id, fail in (("20260105-100000-aaaa", False), ("20260106-100000-bbbb", True)):
        write_reports(sample_run(root / run_id, fail_fault_slo=fail), root / run_id,
                      Redactor())
    (root / "20260107-000000-cccc").mkdir()
    (root / "20260107-000000-cccc" / "summary.json").write_text("{not json")
    (root / "latest").symlink_to("20260106-100000-bbbb")
    write_reports(sample_run(root / "20260108-100000-dddd"), root / "20260108-100000-dddd",
                  Redactor())
    trend = json.loads((root / "trend.json").read_text())
    assert trend["runs"] == ["20260105-100000-aaaa", "20260106-100000-bbbb",
                             "20260108-100000-dddd"]
    points = trend["scenarios"]["scenarios/zone_outage.py::test_zone_outage[zone-b]"]
    assert [p["availability"] for p in points] == [0.9975, 0.91, 0.9975]
    assert [p["recovery_time_s"] for p in points] == [4.0, 4.0, 4.0]
    assert len(trend["unreadable"]) == 1
    page = (root / "trend.html").read_text()
    assert "20260106-100000-bbbb/index.html" in page and "Plotly.newPlot" in page
