"""Provisioning on the lab's real apiserver: a state is applied with server-side apply, rolled
out and Ready, recorded in the ledger before any write, and put back object by object — by
closing it, by `recover` after a killed run, and when it never gets Ready (the error names the
workload and why its pods are not). A scenario parametrized over two states shows each in its
evidence and leaves the cluster as it found it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from kubernetes import client

from gameday.adapters.kube import KubeAdapter
from gameday.errors import ConditionTimeout
from gameday.faults.ledger import LEDGER_NAME, Ledger
from gameday.faults.recover import recover
from gameday.faults.safety import Safety
from gameday.provision import State, grace_period, pdb, replicas, spread
from gameday.provision.provisioned import Provisioned, provision
from tests.conftest import LabHandle
from tests.helpers import deployment, eventually

pytestmark = pytest.mark.lab


def _provision(kube: KubeAdapter, ledger: Ledger, state: State, *, dry_run: bool = False,
               timeout_s: float = 60) -> Provisioned:
    return provision(state, kube=kube, ledger=ledger, safety=Safety(), dry_run=dry_run,
                     timeout_s=timeout_s, say=lambda line: None)


def _spec(apps: client.AppsV1Api, namespace: str, name: str) -> dict:
    return apps.api_client.sanitize_for_serialization(
        apps.read_namespaced_deployment(name, namespace, _request_timeout=10).spec)


def _pdbs(kube: KubeAdapter, namespace: str) -> list[str]:
    version = kube.preferred_version("policy")
    items = kube.request("GET", f"/apis/policy/{version}/namespaces/{namespace}"
                                "/poddisruptionbudgets")["items"]
    return [i["metadata"]["name"] for i in items]


def _ready(apps: client.AppsV1Api, namespace: str, name: str, count: int) -> None:
    eventually(lambda: apps.read_namespaced_deployment(
        name, namespace, _request_timeout=10).status.ready_replicas == count, 40,
        f"{count} ready {name}")


def test_state_applied_ready_and_put_back_field_by_field(
        apps: client.AppsV1Api, kube: KubeAdapter, namespace: str, tmp_path: Path) -> None:
    existing = deployment("web", "nginx:1.25", replicas=2, spread=False, grace_s=1)
    apps.create_namespaced_deployment(namespace, existing, _request_timeout=10)
    _ready(apps, namespace, "web", 2)
    before = _spec(apps, namespace, "web")
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra"},
              "data": {"k": "v"}}
    state = State("strict", (existing, config), namespace=namespace,
                  knobs=(replicas("web", 4), grace_period("web", 3),
                         spread("web", "ScheduleAnyway"), pdb("web", min_available=3)))
    ledger = Ledger(tmp_path / LEDGER_NAME)

    done = _provision(kube, ledger, state)

    assert [(s.action, s.ref.kind) for s in done.steps] == [
        ("change", "Deployment"), ("create", "ConfigMap"), ("create", "PodDisruptionBudget")]
    record, = ledger.read().outstanding
    assert record.kind == "provision"
    changed, = record.undo["changed"]
    assert changed["restore"]["spec"]["replicas"] == 2  # the value read before the apply
    assert changed["restore"]["spec"]["template"]["spec"] == {
        "terminationGracePeriodSeconds": 1, "topologySpreadConstraints": None}
    assert {c["kind"] for c in record.undo["created"]} == {"ConfigMap", "PodDisruptionBudget"}
    live = apps.read_namespaced_deployment("web", namespace, _request_timeout=10)
    assert live.status.ready_replicas == 4 and live.status.updated_replicas == 4
    assert live.spec.template.spec.termination_grace_period_seconds == 3
    assert _pdbs(kube, namespace) == ["web"]
    managers = {m.manager for m in live.metadata.managed_fields}
    assert "gameday" in managers

    undone = done.close()

    assert any("restored spec.replicas" in line for line in undone), undone
    assert ledger.read().outstanding == ()
    assert _spec(apps, namespace, "web") == before
    assert _pdbs(kube, namespace) == []
    assert kube.request("GET", f"/api/v1/namespaces/{namespace}/configmaps")["items"] == [] or \
        all(c["metadata"]["name"] != "extra" for c in kube.request(
            "GET", f"/api/v1/namespaces/{namespace}/configmaps")["items"])
    assert done.close() == []  # idempotent


def test_reapplying_what_is_there_writes_nothing(apps: client.AppsV1Api, kube: KubeAdapter,
                                                 namespace: str, tmp_path: Path) -> None:
    """The server's defaults (a port's protocol, the strategy) do not count as changes."""
    existing = deployment("web", "nginx:1.25", replicas=1, spread=True, grace_s=1)
    apps.create_namespaced_deployment(namespace, existing, _request_timeout=10)
    _ready(apps, namespace, "web", 1)
    ledger = Ledger(tmp_path / LEDGER_NAME)
    done = _provision(kube, ledger, State("as-is", existing, namespace=namespace))
    assert [s.action for s in done.steps] == ["unchanged"]
    assert done.writes == [] and not ledger.path.exists()


def test_recover_puts_back_what_a_killed_run_provisioned(
        kube: KubeAdapter, core: client.CoreV1Api, tmp_path: Path) -> None:
    """A state in its own new namespace, never closed (the run was SIGKILLed): recover deletes
    the namespace and everything in it from the ledger record alone."""
    ns = f"t-prov-{tmp_path.name[-6:].lower().replace('_', '-')}"
    docs = ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
            deployment("web", "nginx:1.25", replicas=1, spread=False, grace_s=1))
    ledger = Ledger(tmp_path / LEDGER_NAME)
    done = _provision(kube, ledger, State("fresh", docs, namespace=ns))
    assert [s.action for s in done.steps] == ["create", "create"]

    lines = recover(ledger.path, kube, None)

    assert f"deleted Namespace {ns}" in " ".join(lines), lines
    assert ledger.read().outstanding == ()
    assert ns not in {n.metadata.name for n in core.list_namespace(_request_timeout=10).items}


def test_a_state_that_never_gets_ready_is_named_and_undone(
        apps: client.AppsV1Api, kube: KubeAdapter, namespace: str, tmp_path: Path) -> None:
    stuck = deployment("stuck", "nginx:1.25", replicas=2, spread=False, grace_s=1)
    stuck["spec"]["template"]["spec"]["nodeSelector"] = {"no-such-label": "x"}
    ledger = Ledger(tmp_path / LEDGER_NAME)
    with pytest.raises(ConditionTimeout) as caught:
        _provision(kube, ledger, State("stuck", stuck, namespace=namespace), timeout_s=6)
    message = str(caught.value)
    assert f"Deployment {namespace}/stuck: 0/2 ready" in message, message
    assert "Unschedulable" in message, message
    assert ledger.read().outstanding == ()
    assert apps.list_namespaced_deployment(namespace, _request_timeout=10).items == []


def test_dry_run_tells_the_plan_and_writes_nothing(apps: client.AppsV1Api, kube: KubeAdapter,
                                                   namespace: str, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / LEDGER_NAME)
    said: list[str] = []
    done = provision(State("new", deployment("web", "nginx:1.25", replicas=1),
                           namespace=namespace), kube=kube, ledger=ledger, safety=Safety(),
                     dry_run=True, timeout_s=5, say=said.append)
    assert said == [f"would provision state 'new' on {kube.context}: create Deployment "
                    f"{namespace}/web"]
    assert done.close() == [] and not ledger.path.exists()
    assert apps.list_namespaced_deployment(namespace, _request_timeout=10).items == []


SCENARIO = '''
    import pytest
    from gameday.provision import State, pdb, replicas, spread

    BASE = State("anyway", {DOC}, namespace="{NS}", knobs=(replicas("web", 3),))
    STATES = [BASE, BASE.but("strict-pdb", spread("web", "DoNotSchedule"),
                             pdb("web", min_available=2))]

    @pytest.mark.parametrize("state", STATES, ids=str)
    def test_states(gameday, state):
        done = gameday.provision(state)
        assert [s.action for s in done.steps][0] == "change"
        gameday.observe("baseline", 0.5)
'''


def test_a_scenario_over_two_states_reports_each_and_leaves_the_cluster_as_found(
        lab: LabHandle, apps: client.AppsV1Api, kube: KubeAdapter, namespace: str,
        tmp_path: Path) -> None:
    existing = deployment("web", "nginx:1.25", replicas=2, spread=False, grace_s=1)
    apps.create_namespaced_deployment(namespace, existing, _request_timeout=10)
    _ready(apps, namespace, "web", 2)
    before = _spec(apps, namespace, "web")
    (tmp_path / "test_states.py").write_text(textwrap.dedent(SCENARIO).replace(
        "{DOC}", repr(existing)).replace("{NS}", namespace))
    reports = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:locust", "-p", "no:cacheprovider", "-q",
         "test_states.py", "--lab-dir", str(lab.state_dir), "--lab=running",
         "--report-dir", str(reports), "--rootdir", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "2 passed" in proc.stdout
    docs = [json.loads(p.read_text()) for p in {p.resolve() for p in
                                                 reports.glob("*/tests/*/evidence.json")}]
    assert sorted(d["parameters"]["state"] for d in docs) == ["anyway", "strict-pdb"]
    for doc in docs:
        kinds = [e["kind"] for e in doc["events"]]
        assert {"provision.plan", "provision.ready", "provision.undone"} <= set(kinds), kinds
    summary = next(reports.glob("*/summary.json")).read_text()
    assert "strict-pdb" in summary and "anyway" in summary
    assert _spec(apps, namespace, "web") == before
    assert _pdbs(kube, namespace) == []
