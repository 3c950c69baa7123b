"""Bad input across the harness: each case ends with a message naming what to fix, and NOTHING
is injected — no ledger record, no write by the harness's identity in the apiserver's audit log,
no Compute Engine operation.

Errors must surface the way a user meets them, so every case is a pytest (or `gameday`)
subprocess against the session's lab: option errors abort the session, scenario errors fail
their own test (read back from the JUnit XML, one subprocess for all of them).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from gameday.faults.ledger import LEDGER_NAME, Ledger
from tests.conftest import ROOT, LabHandle
from tests.lab.evidence_of_writes import NO_CLOUD, audit_writes, gce_operations

pytestmark = pytest.mark.lab

SCENARIOS = textwrap.dedent('''
    from gameday.faults.healthcheck_lag import HealthcheckLag
    from gameday.faults.node_preemption import NodePreemption
    from gameday.faults.pod_kill import PodKill
    from gameday.faults.selection import NodeSelector
    from gameday.faults.zone_outage import ZoneOutage
    from gameday.slo import Availability

    HC = {"checkIntervalSec": 2, "timeoutSec": 1, "unhealthyThreshold": 2}


    def test_unknown_zone(gameday):
        with gameday.inject(ZoneOutage, zone="mars-1a"):
            pass

    def test_bad_node_selector(gameday):
        with gameday.inject(NodePreemption, selector=NodeSelector(pool="no-such-pool")):
            pass

    def test_blast_radius_node_count(gameday):
        with gameday.inject(NodePreemption, selector=NodeSelector(provisioning="any-spot",
                                                                  count=4)):
            pass

    def test_blast_radius_whole_zone(gameday):
        zone = sorted({n.zone for n in gameday.kube.list_nodes()})[0]
        with gameday.inject(NodePreemption, selector=NodeSelector(zone=zone, count=2)):
            pass

    def test_bad_param_value(gameday):
        gameday.param("fault_s", 10.0)

    def test_unknown_slo_field(gameday):
        gameday.slos([Availability.from_load(0.99)])

    def test_query_without_data_is_inconclusive(gameday):
        gameday.steady_state([Availability(0.99, total="gameday_no_such_requests_total")], 2)
        with gameday.inject(ZoneOutage, zone=gameday.run.zones()[0]):
            pass

    def test_service_without_backend_config(gameday):
        with gameday.inject(HealthcheckLag, namespace="default", service="kubernetes",
                            health_check=HC):
            pass

    def test_pod_selector_matching_nothing(gameday):
        with gameday.inject(PodKill, namespace="gameday-demo", selector="app=nope", count=1):
            pass

    def test_missing_app_deployment(gameday):
        gameday.ensure_available("gameday-demo", "nope", timeout_s=5)

    def test_missing_locustfile(gameday):
        with gameday.load(locustfile="/nonexistent/locustfile.py"):
            pass

    def test_broken_locustfile(gameday, tmp_path):
        broken = tmp_path / "broken.py"
        broken.write_text("from locust import HttpUser\\nclass Nope(HttpUser:\\n")
        with gameday.load(locustfile=str(broken), users=1):
            pass

    def test_load_host_unreachable(gameday):
        with gameday.load(host="http://127.0.0.1:9", users=2):
            gameday.steady_state([Availability.from_load(0.99)], 3)
            with gameday.inject(ZoneOutage, zone=gameday.run.zones()[0]):
                pass
''')

EXPECTED = {  # test -> text its failure must contain
    "test_unknown_zone": "unknown zone 'mars-1a'",
    "test_bad_node_selector": "pool=no-such-pool matches 0",
    "test_blast_radius_node_count": "above the blast radius max_nodes=3",
    "test_blast_radius_whole_zone": "above max_zone_fraction=0.5",
    "test_bad_param_value": "--gameday-set fault_s='soon': expected a float",
    "test_unknown_slo_field": "SLO 'availability' has no field 'tagret'",
    "test_query_without_data_is_inconclusive": "steady state not met, nothing was injected",
    "test_service_without_backend_config": "has no cloud.google.com/backend-config annotation",
    "test_pod_selector_matching_nothing": "no running pod matches 'app=nope'",
    "test_missing_app_deployment": "no Deployment gameday-demo/nope",
    "test_missing_locustfile": "is not an existing .py file",
    "test_broken_locustfile": "before sending load",
    "test_load_host_unreachable": "the load target http://127.0.0.1:9 does not answer",
}

WOULD_INJECT = textwrap.dedent('''
    from gameday.faults.zone_outage import ZoneOutage


    def test_would_inject(gameday):
        with gameday.inject(ZoneOutage, zone=gameday.param("zone", "")):
            pass
''')


@pytest.fixture
def nothing_injected(lab: LabHandle, tmp_path: Path) -> Iterator[Path]:
    """The report folder to pass; afterwards no ledger record, audit write or GCE op."""
    writes, ops = len(audit_writes(lab)), gce_operations(lab)
    yield tmp_path / "reports"
    ledgers = list((tmp_path / "reports").glob(f"*/{LEDGER_NAME}"))
    assert all(not Ledger(p).read().records for p in ledgers), ledgers
    assert audit_writes(lab)[writes:] == []
    assert gce_operations(lab) == ops


def pytest_run(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_bad.py").write_text(source)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:locust", "-p", "no:cacheprovider", "-q",
           "test_bad.py", "--report-dir", str(tmp_path / "reports"), *args]
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=180,
                          env=NO_CLOUD)


def test_scenario_errors_name_the_fix(lab: LabHandle, tmp_path: Path,
                                      nothing_injected: Path) -> None:
    junit = tmp_path / "junit.xml"
    proc = pytest_run(tmp_path, SCENARIOS, "--lab-dir", str(lab.state_dir), "--lab=running",
                      "--gameday-set", "fault_s=soon", "--gameday-set",
                      "availability.tagret=0.9", f"--junitxml={junit}")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    failures = {case.get("name"): (case.find("failure") if case.find("failure") is not None
                                   else case.find("error"))
                for case in ET.parse(junit).getroot().iter("testcase")}
    assert set(failures) == set(EXPECTED)
    for name, text in EXPECTED.items():
        failure = failures[name]
        assert failure is not None, f"{name} passed: bad input must fail"
        assert text in (failure.get("message", "") + (failure.text or "")), \
            f"{name}: expected {text!r} in\n{(failure.text or '')[-1500:]}"
    no_data = failures["test_query_without_data_is_inconclusive"]
    assert no_data is not None and "no data" in (no_data.text or "")


def copied_kubeconfig(lab: LabHandle, tmp_path: Path, context: str) -> Path:
    """The lab's kubeconfig with a second context pointing at the same cluster and user."""
    doc = yaml.safe_load(lab.kubeconfig.read_text())
    lab_ctx = next(c for c in doc["contexts"] if c["name"] == lab.context)
    doc["contexts"].append({"name": context, "context": dict(lab_ctx["context"])})
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("args,message", [
    (["--lab=sometimes"], "--lab must be one of auto, running, off, got 'sometimes'"),
    (["--gameday-set", "fault_s"], "bad --gameday-set 'fault_s': expected KEY=VALUE"),
    (["--max-nodes", "0"], "--max-nodes must be at least 1"),
    (["--prometheus-url", "localhost:9090"], "--prometheus-url must be an http(s) URL"),
    (["--kubeconfig", "/nonexistent/kubeconfig"], "/nonexistent/kubeconfig does not exist"),
])
def test_bad_options_stop_the_session(lab: LabHandle, tmp_path: Path, nothing_injected: Path,
                                      args: list[str], message: str) -> None:
    proc = pytest_run(tmp_path, WOULD_INJECT, "--lab-dir", str(lab.state_dir), *args)
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]  # usage error
    assert message in proc.stderr, proc.stderr[-2000:]


def test_bad_kube_context(lab: LabHandle, tmp_path: Path, nothing_injected: Path) -> None:
    proc = pytest_run(tmp_path, WOULD_INJECT, "--kubeconfig", str(lab.kubeconfig),
                      "--kube-context", "no-such-context", "--gameday-set", "zone=x")
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "no-such-context" in proc.stdout, proc.stdout[-3000:]


def test_lab_not_running(tmp_path: Path, nothing_injected: Path) -> None:
    proc = pytest_run(tmp_path, WOULD_INJECT, "--lab-dir", str(tmp_path / "no-lab"),
                      "--lab=running", "--gameday-set", "zone=x")
    assert proc.returncode == 1
    assert "LabNotRunning" in proc.stdout and str(tmp_path / "no-lab") in proc.stdout


def test_context_not_allowlisted(lab: LabHandle, tmp_path: Path,
                                 nothing_injected: Path) -> None:
    kubeconfig = copied_kubeconfig(lab, tmp_path, "prod-like")
    zone = lab.state.config.zone_names[0]
    proc = pytest_run(tmp_path, WOULD_INJECT, "--kubeconfig", str(kubeconfig),
                      "--kube-context", "prod-like", "--gce-endpoint",
                      lab.status["compute_endpoint"], "--gameday-set", f"zone={zone}")
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "refusing a destructive fault against kube context 'prod-like'" in proc.stdout
    assert "--allow-context prod-like" in proc.stdout


def test_wrong_gce_project(lab: LabHandle, tmp_path: Path, nothing_injected: Path) -> None:
    """The lab's Compute endpoint knows only its own project: a wrong --gce-project is refused
    before the fault, not silently replaced by the nodes' providerID project."""
    proc = pytest_run(tmp_path, WOULD_INJECT, "--lab-dir", str(lab.state_dir), "--lab=running",
                      "--gce-project", "gameday-lab-typo", "--gameday-set",
                      f"zone={lab.state.config.zone_names[0]}")
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "--gce-project 'gameday-lab-typo': http://127.0.0.1:" in proc.stdout, \
        proc.stdout[-3000:]
    assert "has no such project or refuses access (404" in proc.stdout


def test_unreachable_prometheus(lab: LabHandle, tmp_path: Path,
                                nothing_injected: Path) -> None:
    source = WOULD_INJECT.replace("    with gameday.inject", "    gameday.steady_state(["
                                  "Availability.from_load(0.9)], 1)\n    with gameday.inject")
    source = "from gameday.slo import Availability\n" + source
    proc = pytest_run(tmp_path, source, "--lab-dir", str(lab.state_dir), "--lab=running",
                      "--prometheus-url", "http://127.0.0.1:9", "--gameday-set",
                      f"zone={lab.state.config.zone_names[0]}")
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "Prometheus at http://127.0.0.1:9 did not answer" in proc.stdout, proc.stdout[-3000:]


def test_recover_refuses_a_foreign_ledger(lab: LabHandle, tmp_path: Path,
                                          nothing_injected: Path) -> None:
    ledger = Ledger(tmp_path / "foreign" / LEDGER_NAME)
    ledger.open("zone_outage", "gke_prod_europe-west1_main",
                {"mode": "k8s", "nodes": ["gke-main-pool-1"], "taint": {
                    "key": "gameday.dev/zone-outage", "effect": "NoExecute", "value": "true"}})
    proc = subprocess.run([sys.executable, "-m", "gameday.cli", "recover", "--ledger",
                           str(ledger.path), "--kubeconfig", str(lab.kubeconfig),
                           "--kube-context", lab.context, "--gce-endpoint",
                           lab.status["compute_endpoint"]], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=NO_CLOUD)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "re-run with --context gke_prod_europe-west1_main" in proc.stderr
    assert len(ledger.read().outstanding) == 1  # refused, so still there for the right cluster
