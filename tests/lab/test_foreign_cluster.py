"""The shipped scenarios against the lab *as if it were someone else's GKE cluster*: `--lab off`
and only what a GKE user passes (a kubeconfig with the CA inline, context, allow-context,
Prometheus URL, Compute endpoint, project, load host), run from a folder outside the repo.

Both load placements: `cluster` (Locust pods in the target, scraped by the target's own
Prometheus through their annotations) and `runner` (Locust on this machine, scraped by a
Prometheus the run starts itself); the path that used to end in "no data" after the baseline.
An audit hook in the pytest process records every file
it opens; none may be under the lab's state folder (what a GKE user does not have).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, LabHandle

pytestmark = pytest.mark.lab

AUDIT_PLUGIN = textwrap.dedent('''
    """Records every path the pytest process opens under GAMEDAY_AUDIT_DIR."""
    import json, os, sys

    WATCHED = os.environ["GAMEDAY_AUDIT_DIR"]
    OPENED = []

    def _hook(event, args):
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.fsdecode(args[0])
            if os.path.abspath(path).startswith(WATCHED):
                OPENED.append(path)

    sys.addaudithook(_hook)

    def pytest_sessionfinish(session):
        with open(os.environ["GAMEDAY_AUDIT_OUT"], "w") as f:
            json.dump(OPENED, f)
''')


def _gke_style_kubeconfig(lab: LabHandle, out: Path) -> Path:
    """The lab's kubeconfig as gcloud writes one: the CA inline, no path into the lab."""
    doc = yaml.safe_load(lab.kubeconfig.read_text())
    for entry in doc["clusters"]:
        ca = Path(entry["cluster"].pop("certificate-authority"))
        entry["cluster"]["certificate-authority-data"] = base64.b64encode(
            ca.read_bytes()).decode()
    out.write_text(yaml.safe_dump(doc))
    return out


@pytest.fixture(scope="module", params=["cluster", "runner"])
def foreign_run(request: pytest.FixtureRequest, lab: LabHandle,
                tmp_path_factory: pytest.TempPathFactory
                ) -> tuple[subprocess.CompletedProcess[str], dict[str, dict], list[str]]:
    placement = request.param
    work = tmp_path_factory.mktemp(f"gke-user-{placement}")
    (work / "gameday_audit.py").write_text(AUDIT_PLUGIN)
    kubeconfig = _gke_style_kubeconfig(lab, work / "kubeconfig")
    status = lab.status
    zone = lab.state.config.zone_names[0]
    cmd = [sys.executable, "-m", "pytest", "-p", "no:locust", "-p", "no:cacheprovider",
           "-p", "gameday_audit", "-q",
           f"{ROOT}/scenarios/zone_outage.py::test_zone_outage[{zone}]",
           f"{ROOT}/scenarios/preemptible_node_loss.py::test_preemptible_node_loss[1]",
           f"{ROOT}/scenarios/ingress_healthcheck_lag.py::test_ingress_healthcheck_lag[tight]",
           "--lab", "off", "--kubeconfig", str(kubeconfig), "--kube-context", lab.context,
           "--allow-context", lab.context, "--prometheus-url", status["prometheus_url"],
           "--gce-endpoint", status["compute_endpoint"], "--gce-project",
           status["gce_project"], "--gameday-set", f"load_host={status['ingress_url']}",
           "--load-placement", placement, "--report-dir", str(work / "reports")]
    env = {**_clean_env(), "PYTHONPATH": str(work), "GAMEDAY_AUDIT_DIR": str(lab.state_dir),
           "GAMEDAY_AUDIT_OUT": str(work / "opened.json")}
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=1500)
    evidence = {}
    for path in (work / "reports").glob("*/tests/*/evidence.json"):
        doc = json.loads(path.read_text())
        evidence[doc["test_id"]] = doc
    opened = json.loads((work / "opened.json").read_text()) if (
        work / "opened.json").exists() else ["(the audit plugin wrote nothing)"]
    return proc, evidence, opened, placement


def _clean_env() -> dict[str, str]:
    """This process's environment without gameday's own variables (a GKE user's shell)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GAMEDAY_")}


def test_every_scenario_reaches_a_passing_verdict(foreign_run: tuple, lab: LabHandle) -> None:
    proc, evidence, _, placement = foreign_run
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert "3 passed" in proc.stdout, proc.stdout[-3000:]
    assert len(evidence) == 3, sorted(evidence)
    for doc in evidence.values():
        assert doc["verdicts"] and {v["status"] for v in doc["verdicts"]} == {"pass"}, doc[
            "test_id"]
        starts = [e for e in doc["events"] if e["kind"] == "load.start"]
        assert starts and f"({placement})" in starts[0]["message"], starts
        load_verdicts = [v for v in doc["verdicts"] if "gameday_load_" in v["promql"]]
        assert load_verdicts, doc["verdicts"]
        answered = {v["prometheus"] for v in load_verdicts}
        # runner: the run's own Prometheus answers the load's verdicts; cluster: the target's
        by_target = answered == {lab.status["prometheus_url"]}
        assert by_target == (placement == "cluster"), answered


def test_nothing_was_read_from_the_labs_state_folder(foreign_run: tuple) -> None:
    _, _, opened, _ = foreign_run
    assert opened == [], opened


def test_no_load_pod_is_left_behind(foreign_run: tuple, lab: LabHandle) -> None:
    from gameday.adapters.kube import KubeAdapter

    kube = KubeAdapter(lab.kubeconfig, lab.context)
    try:
        assert kube.list_pods("gameday", "app=gameday-load") == []
    finally:
        kube.close()
