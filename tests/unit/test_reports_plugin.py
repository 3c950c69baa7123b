"""The hooks end to end in a real pytest run: the `gameday` fixture, a Prometheus that does not
answer, a secret header and a kubeconfig token — every file of the run folder is checked."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml

SCENARIO = """
import datetime as dt

def test_day(gameday):
    assert gameday.run.target.prometheus_url  # resolve the target as a scenario would
    gameday.param("app_namespace", "gameday-demo")
    with gameday.phase("baseline"):
        gameday.evidence.event("note", "nothing happens", source="test")
    gameday.evidence.figures["recovery_time_s"] = 3.5

def test_broken(gameday):
    raise RuntimeError("the fault could not be injected")

def test_plain():
    pass
"""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def outcome(pytester: pytest.Pytester) -> tuple[pytest.RunResult, Path]:
    kubeconfig = pytester.path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({"users": [
        {"name": "lab", "user": {"token": "labtoken-0123456789abcdef"}}]}))
    pytester.makepyfile(test_scenario=SCENARIO)
    reports = pytester.path / "reports"
    result = pytester.runpytest(
        "-p", "no:locust", "--lab=off", f"--kubeconfig={kubeconfig}",
        f"--prometheus-url=http://127.0.0.1:{closed_port()}",
        "--prometheus-header=Authorization: Bearer SECRET123", f"--report-dir={reports}")
    return result, reports


def test_session_writes_every_report(outcome: tuple[pytest.RunResult, Path]) -> None:
    result, reports = outcome
    result.assert_outcomes(passed=2, failed=1)
    (run_dir,) = [p for p in reports.iterdir() if p.is_dir() and not p.is_symlink()]
    for name in ("index.html", "summary.json", "junit.xml"):
        assert (run_dir / name).is_file(), name
    assert (reports / "trend.html").is_file() and (reports / "trend.json").is_file()
    result.stdout.fnmatch_lines([f"gameday report: {run_dir / 'index.html'} (*s); trend: *"])
    summary = json.loads((run_dir / "summary.json").read_text())
    verdicts = {t["nodeid"].split("::")[1]: t["verdict"] for t in summary["tests"]}
    assert verdicts == {"test_day": "pass", "test_broken": "error", "test_plain": "pass"}
    day = summary["tests"][0]
    assert day["figures"] == {"recovery_time_s": 3.5}
    assert [p["name"] for p in day["phases"]] == ["baseline"]
    assert summary["environment"]["timing_profile"] == "gke"
    page = (run_dir / "index.html").read_text()
    assert "ready pods per zone unavailable" in page
    assert "prometheus header Authorization" in page


def test_no_file_in_the_run_folder_holds_a_secret(outcome: tuple[pytest.RunResult, Path]
                                                  ) -> None:
    result, reports = outcome
    files = [p for p in reports.rglob("*") if p.is_file()]
    assert len(files) >= 7  # 3 reports, trend x2, evidence.json per game-day test
    for path in files:
        text = path.read_text(errors="replace")
        assert "SECRET123" not in text, path
        assert "labtoken-0123456789abcdef" not in text, path
    assert "SECRET123" not in result.stdout.str()
