"""The cluster lock on the real apiserver: while one run has a fault to revert, another run's
fault is refused before it writes anything, with a message that says whose lock it is and how
to get it back; the lock goes away with the last revert, and with `recover` after a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client

from gameday.adapters.kube import KubeAdapter
from gameday.errors import SafetyError
from gameday.faults.base import Target
from gameday.faults.ledger import Ledger
from gameday.faults.lock import LOCK_NAME, LOCK_NAMESPACE
from gameday.faults.pod_kill import PodKill
from gameday.faults.recover import recover
from gameday.faults.safety import Safety
from gameday.lab.profiles import get_profile
from tests.helpers import deployment, eventually

pytestmark = pytest.mark.lab


def run_target(kube: KubeAdapter, folder: Path) -> Target:
    """What one game-day run acts with: its own ledger, hence its own lock identity."""
    return Target(kube=kube, safety=Safety(), ledger=Ledger(folder / "revert-ledger.jsonl"),
                  profile=get_profile("fast"))


@pytest.fixture
def app(apps: client.AppsV1Api, namespace: str) -> str:
    apps.create_namespaced_deployment(namespace, deployment("locked", "nginx:1.25", replicas=2,
                                                            spread=False, grace_s=1))
    eventually(lambda: apps.read_namespaced_deployment(
        "locked", namespace).status.ready_replicas == 2, 40, "2 ready replicas")
    return namespace


def test_a_second_run_is_refused_until_the_first_has_reverted(kube: KubeAdapter, app: str,
                                                              tmp_path: Path) -> None:
    first, second = run_target(kube, tmp_path / "run-1"), run_target(kube, tmp_path / "run-2")
    pods = {p.uid for p in kube.list_pods(app, "app=locked")}
    with PodKill(first, namespace=app, selector="app=locked", count=1):
        lease = kube.get_lease(LOCK_NAMESPACE, LOCK_NAME)
        assert lease is not None and str(first.ledger.path.resolve()) in lease.holder
        alive = {p.uid for p in kube.list_pods(app, "app=locked") if not p.terminating}
        with pytest.raises(SafetyError) as refused:
            PodKill(second, namespace=app, selector="app=locked", count=1).inject()
        message = str(refused.value)
        assert "another game day" in message
        assert f"gameday recover --ledger {first.ledger.path.resolve()}" in message
        assert not second.ledger.path.exists()  # refused before its record, let alone a write
        assert {p.uid for p in kube.list_pods(app, "app=locked") if not p.terminating} == alive
    assert kube.get_lease(LOCK_NAMESPACE, LOCK_NAME) is None
    assert pods - {p.uid for p in kube.list_pods(app, "app=locked")}, "the first kill happened"
    with PodKill(second, namespace=app, selector="app=locked", count=1):
        assert kube.get_lease(LOCK_NAMESPACE, LOCK_NAME) is not None
    assert kube.get_lease(LOCK_NAMESPACE, LOCK_NAME) is None


def test_a_lock_left_by_another_host_names_it(kube: KubeAdapter, app: str,
                                              tmp_path: Path) -> None:
    notes = {"gameday.dev/host": "ci-runner-7", "gameday.dev/pid": "4242",
             "gameday.dev/ledger": "/builds/reports/nightly/revert-ledger.jsonl",
             "gameday.dev/since": "2026-11-27T03:00:00.000000Z"}
    assert kube.create_lease(LOCK_NAMESPACE, LOCK_NAME, "ci-runner-7:/builds/reports/nightly",
                             notes, "2026-11-27T03:00:00.000000Z")
    try:
        target = run_target(kube, tmp_path)
        with pytest.raises(SafetyError) as refused:
            PodKill(target, namespace=app, selector="app=locked", count=1).inject()
        message = str(refused.value)
        assert "host ci-runner-7 (pid 4242) since 2026-11-27T03:00" in message
        assert "gameday recover --ledger /builds/reports/nightly/revert-ledger.jsonl" in message
        assert f"kubectl -n {LOCK_NAMESPACE} delete lease {LOCK_NAME}" in message
        assert target.lock is not None and not target.lock.release()  # never someone else's
        dry = Target(kube=kube, safety=Safety(), ledger=target.ledger, dry_run=True)
        plan = PodKill(dry, namespace=app, selector="app=locked", count=1).inject()
        assert plan.dry_run and "host ci-runner-7" in (plan.refused or "")  # told, not raised
        assert kube.get_lease(LOCK_NAMESPACE, LOCK_NAME) is not None
    finally:
        lease = kube.get_lease(LOCK_NAMESPACE, LOCK_NAME)
        assert lease is not None
        kube.delete_lease(LOCK_NAMESPACE, LOCK_NAME, lease.resource_version)


def test_recover_releases_a_lock_whose_faults_were_already_reverted(kube: KubeAdapter,
                                                                     app: str,
                                                                     tmp_path: Path) -> None:
    """A run killed in its recovery phase: its fault is reverted, its game day's hold is not.
    The refusal names `gameday recover --ledger`, and that releases it."""
    run = run_target(kube, tmp_path)
    fault = PodKill(run, namespace=app, selector="app=locked", count=1)
    fault.inject()
    assert run.lock is not None
    run.lock.acquire()  # the game day's own hold, till the end of the test
    fault.revert()
    assert run.ledger.read().outstanding == ()
    assert kube.get_lease(LOCK_NAMESPACE, LOCK_NAME) is not None  # the run "dies" here
    lines = recover(run.ledger.path, kube, None)
    assert lines[-1].startswith("released the cluster lock"), lines
    assert kube.get_lease(LOCK_NAMESPACE, LOCK_NAME) is None
