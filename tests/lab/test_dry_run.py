"""`--dry-run` on the shipped scenarios: every fault's plan is printed live (through pytest's
output capture: no `-s`) and recorded, and the run makes zero writes — none by the harness's
identity in the apiserver's audit log, no Compute Engine operation (listed with
google-cloud-compute), no ledger.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gameday.faults.ledger import LEDGER_NAME
from tests.conftest import ROOT, LabHandle
from tests.lab.evidence_of_writes import NO_CLOUD, audit_writes, gce_operations

pytestmark = pytest.mark.lab

PLANS = {  # scenario -> what its printed plan must say
    "zone_outage": ("[zone_outage] take zone", "defaultActionOnFailure=DO_NOTHING", "/stop"),
    "preemptible_node_loss": ("[node_preemption] preempt 2 node(s)",
                              "simulateMaintenanceEvent"),
    "ingress_healthcheck_lag": ("backendconfigs/web spec.healthCheck=",
                                "DELETE pods/web-", "gracePeriodSeconds=0"),
}


def test_dry_run_of_every_scenario_writes_nothing(lab: LabHandle, tmp_path: Path) -> None:
    writes, ops = len(audit_writes(lab)), gce_operations(lab)
    zone = lab.state.config.zone_names[0]
    reports = tmp_path / "reports"
    cmd = [sys.executable, "-m", "pytest", "-p", "no:locust", "-p", "no:cacheprovider", "-q",
           f"scenarios/zone_outage.py::test_zone_outage[{zone}]",
           "scenarios/preemptible_node_loss.py", "scenarios/ingress_healthcheck_lag.py",
           "--lab-dir", str(lab.state_dir), "--lab=running", "--report-dir", str(reports),
           "--dry-run"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180,
                          env=NO_CLOUD)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "5 passed" in proc.stdout
    for scenario, texts in PLANS.items():
        for text in texts:
            assert text in proc.stdout, f"{scenario}: plan lacks {text!r}"
    assert audit_writes(lab)[writes:] == []
    assert gce_operations(lab) == ops
    assert not list(reports.glob(f"*/{LEDGER_NAME}"))
    paths = {p.resolve() for p in reports.glob("*/tests/*/evidence.json")}  # `latest` too
    docs = [json.loads(p.read_text()) for p in paths]
    assert len(docs) == 5
    for doc in docs:
        plans = [e for e in doc["events"] if e["kind"].endswith(".plan")]
        assert plans and all(e["data"]["dry_run"] for e in plans), doc["test_id"]
        assert doc["verdicts"] == [] and any(e["kind"] == "slo.skipped" for e in doc["events"])
