"""The shipped scenarios end to end on the session's lab (fast profile), as a user runs them:
one `pytest scenarios/...` subprocess against the running lab, then its evidence is read back.

Zone outage runs for one zone only, to keep the file's time near three minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, LabHandle

pytestmark = pytest.mark.lab

EXPECTED_FIGURES = {
    "zone_outage": {"rescheduled_s", "recovery_time_s"},
    "preemptible_node_loss": {"node_not_ready_s", "pods_ready_s", "node_back_s",
                              "instances_recreated", "recovery_time_s"},
    "ingress_healthcheck_lag": {"lb_502_window_s", "lb_502_bound_s", "lb_502_requests"},
}


@pytest.fixture(scope="module")
def scenario_run(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory
                 ) -> tuple[subprocess.CompletedProcess[str], dict[str, dict]]:
    """Run every shipped scenario once; returns the process and evidence by test id."""
    reports = tmp_path_factory.mktemp("e2e-reports")
    zone = lab.state.config.zone_names[0]
    cmd = [sys.executable, "-m", "pytest", "-p", "no:locust", "-p", "no:cacheprovider", "-q",
           f"scenarios/zone_outage.py::test_zone_outage[{zone}]",
           "scenarios/preemptible_node_loss.py", "scenarios/ingress_healthcheck_lag.py",
           "--lab-dir", str(lab.state_dir), "--lab=running", "--report-dir", str(reports)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=330)
    evidence = {}
    for path in Path(reports).glob("*/tests/*/evidence.json"):
        doc = json.loads(path.read_text())
        evidence[doc["test_id"]] = doc
    return proc, evidence


def test_every_scenario_passes(scenario_run: tuple) -> None:
    proc, evidence = scenario_run
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "5 passed" in proc.stdout
    assert len(evidence) == 5, sorted(evidence)


def test_progress_is_narrated_live_with_every_verdict(scenario_run: tuple) -> None:
    """Without -s, the terminal still shows each phase and each verdict as it happens."""
    proc, evidence = scenario_run
    lines = [line for line in proc.stdout.splitlines() if line.startswith("gameday: ")]
    for phase in ("baseline", "fault", "recovery"):
        assert any(line.endswith(f"── {phase} ──") for line in lines), phase
    told = sum(1 for line in lines if " SLO " in line and ": PASS (measured " in line)
    assert told == sum(len(doc["verdicts"]) for doc in evidence.values())


@pytest.mark.parametrize("scenario", sorted(EXPECTED_FIGURES))
def test_evidence_shows_pass_verdicts_and_figures(scenario_run: tuple, scenario: str) -> None:
    _, evidence = scenario_run
    docs = [d for test_id, d in evidence.items() if test_id.startswith(f"scenarios/{scenario}")]
    assert docs, f"no evidence for {scenario}: {sorted(evidence)}"
    for doc in docs:
        assert doc["outcome"].get("call") == "passed", doc["outcome"]
        assert doc["verdicts"] and {v["status"] for v in doc["verdicts"]} == {"pass"}
        assert {"baseline", "fault"} <= {p["name"] for p in doc["phases"]}
        missing = EXPECTED_FIGURES[scenario] - set(doc["figures"])
        assert not missing, f"{doc['test_id']} lacks figures {missing}: {doc['figures']}"
        assert all(v is not None and v >= 0 for k, v in doc["figures"].items()
                   if k in EXPECTED_FIGURES[scenario])


def test_healthcheck_windows_stay_within_their_bounds(scenario_run: tuple) -> None:
    _, evidence = scenario_run
    figures = {test_id.split("[")[-1].rstrip("]"): d["figures"]
               for test_id, d in evidence.items() if "ingress_healthcheck_lag" in test_id}
    assert set(figures) == {"tight", "loose"}
    assert figures["tight"]["lb_502_bound_s"] < figures["loose"]["lb_502_bound_s"]
    for fig in figures.values():
        assert fig["lb_502_window_s"] <= fig["lb_502_bound_s"] + 1.0  # fast scrape: 1 s


def test_preemption_recreates_as_many_vms_as_it_took(scenario_run: tuple) -> None:
    _, evidence = scenario_run
    for test_id, doc in evidence.items():
        if "preemptible_node_loss" in test_id:
            nodes = int(test_id.split("[")[-1].rstrip("]"))
            assert doc["figures"]["instances_recreated"] == nodes
            figs = doc["figures"]
            # pods may be Ready elsewhere before the node is even NotReady: GKE's graceful
            # shutdown ends them within the preemption notice
            assert figs["pods_rescheduled_s"] <= figs["pods_ready_s"]
            assert figs["node_not_ready_s"] <= figs["node_back_s"]
