"""Allure: Tag Manager stripped from the generated page; steps from evidence; real
allure-pytest results with steps and attachments written by a pytest run."""

from __future__ import annotations

import json

import pytest

from gameday.reports.allure_html import AllureReportError, strip_tag_manager
from gameday.reports.allure_sink import phase_steps, slo_csv
from gameday.reports.testing import sample_evidence

ALLURE3_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<title>Allure Report</title>
<link rel="preconnect" href="https://www.googletagmanager.com">
<script async src="https://www.googletagmanager.com/gtag/js?id=G-FVWC4GKEYS"></script>
<script>
  window.dataLayer = window.dataLayer || [];
  function gtag(){dataLayer.push(arguments);}
  gtag('js', new Date());
  gtag('config', 'G-FVWC4GKEYS', {"report": "awesome"});
</script>
<script>window.allure = {"reportName": "gameday"};</script>
</head><body><noscript><iframe src="https://www.googletagmanager.com/ns.html?id=GTM-X">
</iframe></noscript><div id="app"></div><script>console.log("app");</script></body></html>"""


def test_strip_tag_manager_removes_trackers_and_keeps_the_app() -> None:
    page = strip_tag_manager(ALLURE3_PAGE)
    for gone in ("googletagmanager", "gtag(", "dataLayer", "G-FVWC4GKEYS"):
        assert gone not in page
    assert 'window.allure = {"reportName": "gameday"}' in page
    assert 'console.log("app")' in page and '<div id="app">' in page


def test_strip_tag_manager_refuses_a_page_it_cannot_clean() -> None:
    with pytest.raises(AllureReportError, match="googletagmanager"):
        strip_tag_manager('<img src="https://www.googletagmanager.com/x.gif">')


def test_phase_steps_nest_faults_and_carry_verdict_status() -> None:
    steps = phase_steps(sample_evidence(fail_fault_slo=True).to_dict())
    assert [s.name for s in steps] == ["phase baseline", "phase fault", "phase recovery"]
    assert [s.status for s in steps] == ["passed", "failed", "passed"]
    baseline, fault, _ = steps
    assert baseline.steps == []
    (outage,) = fault.steps
    assert outage.name == "fault zone_outage"
    assert outage.stop - outage.start == 29_000
    assert [e.name for e in outage.steps] == ["zone zone-b: every instance stopped",
                                              "started 2 instances"]
    assert "availability: fail (91.000%, target >= 95.0%)" in fault.description


def test_slo_csv_has_a_row_per_verdict() -> None:
    rows = slo_csv(sample_evidence().to_dict()["verdicts"]).strip().splitlines()
    assert rows[0].startswith("slo,kind,phase,target,measured,status")
    assert len(rows) == 5


def test_allure_results_get_steps_and_attachments(pytester: pytest.Pytester) -> None:
    """A real pytest run with allure-pytest, our hooks and a gameday fixture stand-in."""
    pytester.makeconftest("""
import pytest
from gameday.reports.testing import sample_evidence

class Day:
    dry_run = False
    def __init__(self, path):
        self.evidence = sample_evidence()
        self.dir = path

@pytest.fixture
def gameday(tmp_path):
    yield Day(tmp_path)
""")
    pytester.makepyfile("def test_scenario(gameday):\n    assert gameday.evidence\n")
    results = pytester.path / "allure-results"
    outcome = pytester.runpytest("-p", "no:locust", f"--alluredir={results}", "--lab=off")
    outcome.assert_outcomes(passed=1)
    (result_file,) = results.glob("*-result.json")
    result = json.loads(result_file.read_text())
    assert [s["name"] for s in result["steps"]] == ["phase baseline", "phase fault",
                                                     "phase recovery"]
    assert result["steps"][1]["steps"][0]["name"] == "fault zone_outage"
    names = {a["name"] for a in result["attachments"]}
    assert {"timeline chart", "SLO verdicts"} <= names
    chart = next(a for a in result["attachments"] if a["name"] == "timeline chart")
    assert "Plotly.newPlot" in (results / chart["source"]).read_text()
