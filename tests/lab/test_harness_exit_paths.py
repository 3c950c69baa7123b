"""The revert guarantee through the whole harness: a scenario run as a pytest subprocess against
the session's lab puts the cluster back on every way out — pass, failed assertion, exception,
SIGINT, SIGTERM, and SIGKILL followed by `gameday recover`. And nothing the run started
survives it: SIGKILLed mid-load, its Locust processes are gone within seconds and the load's
target receives no more requests.

The scenario holds a GCE-mode zone outage (MIG repair off, the zone's VMs stopped), the fault
with the most to undo. A signal is sent only once the ledger holds the fault's `open` record,
i.e. while the fault is held.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.adapters.compute import REPAIR, ComputeAdapter, parse_provider_id
from gameday.adapters.kube import KubeAdapter
from gameday.faults.ledger import LEDGER_NAME, Ledger
from gameday.faults.lock import LOCK_NAME, LOCK_NAMESPACE
from tests.conftest import ROOT, LabHandle
from tests.helpers import eventually
from tests.unit.test_load_lease import load_pids
from tests.unit.test_load_run import Target

pytestmark = pytest.mark.lab

SCENARIO = textwrap.dedent('''
    import contextlib
    import time

    from gameday.faults.zone_outage import ZoneOutage


    def test_outage_exit(gameday):
        how = gameday.param("exit", "pass")
        target = gameday.param("target", "")  # a URL: send load there around the fault
        with gameday.load(host=target, users=2) if target else contextlib.nullcontext():
            with gameday.inject(ZoneOutage, zone=gameday.param("zone", "")):
                if how == "assertion":
                    assert 0.5 >= 0.99, "availability SLO missed (on purpose)"
                if how == "exception":
                    raise RuntimeError("scenario bug (on purpose)")
                if how == "signal":
                    time.sleep(90)  # the test signals this process meanwhile
        # the recovery after the revert is part of the game day: the lock stays till the end
        assert gameday.kube.get_lease("gameday", "gameday-lock") is not None
''')


def cluster_problems(kube: KubeAdapter, compute: ComputeAdapter) -> list[str]:
    """Everything that says a fault is still in place; empty when the cluster is clean."""
    nodes = kube.list_nodes()
    problems = [f"{n.name}: ready={n.ready} cordoned={n.unschedulable} taints={n.taints}"
                for n in nodes if not n.ready or n.unschedulable or n.taints]
    refs = [parse_provider_id(n.provider_id or "") for n in nodes]
    problems += [f"{r}: {status}" for r in refs
                 if (status := compute.get_instance(r).status) != "RUNNING"]
    for project, zone in sorted({(r.project, r.zone) for r in refs}):
        problems += [f"MIG {m.name}: {m.default_action_on_failure}"
                     for m in compute.list_migs(project, zone)
                     if m.default_action_on_failure != REPAIR]
    return problems + ([] if len(nodes) == 6 else [f"{len(nodes)} nodes, expected 6"])


def leftovers(kube: KubeAdapter, compute: ComputeAdapter) -> list[str]:
    """The fault's traces plus a cluster lock still held: a clean exit releases it too."""
    lock = kube.get_lease(LOCK_NAMESPACE, LOCK_NAME)
    held = [f"the cluster lock is still held by {lock.holder}"] if lock is not None else []
    return cluster_problems(kube, compute) + held


def start(lab: LabHandle, tmp_path: Path, exit_how: str, zone: str,
          target: str | None = None) -> subprocess.Popen[str]:
    (tmp_path / "test_outage_exit.py").write_text(SCENARIO)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:locust", "-p", "no:cacheprovider", "-q",
           "test_outage_exit.py", "--lab-dir", str(lab.state_dir), "--lab=running",
           "--report-dir", str(tmp_path / "reports"), "--gameday-set", f"exit={exit_how}",
           "--gameday-set", f"zone={zone}",
           *(["--gameday-set", f"target={target}"] if target else [])]
    return subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def ledger_of(tmp_path: Path) -> Path:
    found = {p.resolve() for p in (tmp_path / "reports").glob(f"*/{LEDGER_NAME}")}  # + latest
    assert len(found) == 1, found
    return found.pop()


def wait_fault_held(tmp_path: Path, proc: subprocess.Popen[str]) -> Path:
    """The ledger gains an `open` record just before the fault's first write."""
    def opened() -> Path | None:
        assert proc.poll() is None, f"scenario exited early:\n{proc.communicate()[0][-3000:]}"
        for path in (tmp_path / "reports").glob(f"*/{LEDGER_NAME}"):
            if any(json.loads(line)["event"] == "open"
                   for line in path.read_text().splitlines() if line.strip()):
                return path
        return None
    return eventually(opened, 60, "the fault's open record in the ledger")


def outage_in_place(kube: KubeAdapter, compute: ComputeAdapter) -> list[str]:
    """The revert must undo real changes: wait until the outage shows in the cluster."""
    return eventually(lambda: cluster_problems(kube, compute), 30, "the zone outage in place")


@pytest.fixture
def outage_zone(lab: LabHandle, kube: KubeAdapter, compute: ComputeAdapter) -> Iterator[str]:
    eventually(lambda: not leftovers(kube, compute), 60, "a clean cluster before")
    yield lab.state.config.zone_names[1]
    eventually(lambda: not leftovers(kube, compute), 60, "a clean cluster after")


@pytest.mark.parametrize("exit_how,code", [("pass", 0), ("assertion", 1), ("exception", 1)])
def test_revert_on_test_outcome(lab: LabHandle, kube: KubeAdapter, compute: ComputeAdapter,
                                tmp_path: Path, outage_zone: str, exit_how: str, code: int) -> None:
    proc = start(lab, tmp_path, exit_how, outage_zone)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == code, out[-3000:]
    if exit_how != "pass":
        assert "on purpose" in out
    state = Ledger(ledger_of(tmp_path)).read()
    assert len(state.records) == 1 and state.outstanding == ()
    eventually(lambda: leftovers(kube, compute) == [], 60, "clean cluster", 0.5)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_revert_on_signal_while_fault_held(lab: LabHandle, kube: KubeAdapter,
                                           compute: ComputeAdapter, tmp_path: Path,
                                           outage_zone: str, sig: signal.Signals) -> None:
    proc = start(lab, tmp_path, "signal", outage_zone)
    ledger = wait_fault_held(tmp_path, proc)
    outage_in_place(kube, compute)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode != 0, out[-3000:]
    assert Ledger(ledger).read().outstanding == (), out[-3000:]
    eventually(lambda: leftovers(kube, compute) == [], 60, "clean cluster", 0.5)


def test_sigkill_then_recover_command(lab: LabHandle, kube: KubeAdapter,
                                      compute: ComputeAdapter, tmp_path: Path,
                                      outage_zone: str) -> None:
    proc = start(lab, tmp_path, "signal", outage_zone)
    ledger = wait_fault_held(tmp_path, proc)
    outage_in_place(kube, compute)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert len(Ledger(ledger).read().outstanding) == 1
    time.sleep(2)  # nothing reverts by itself: the MIG policy holds the zone down
    assert cluster_problems(kube, compute), "a SIGKILLed run must leave its fault in place"
    recover = subprocess.run([sys.executable, "-m", "gameday.cli", "recover", "--ledger",
                              str(ledger), "--lab-dir", str(lab.state_dir)], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert recover.returncode == 0, recover.stdout + recover.stderr
    assert "started gce://" in recover.stdout and "REPAIR" in recover.stdout
    assert "released the cluster lock" in recover.stdout
    assert Ledger(ledger).read().outstanding == ()
    eventually(lambda: leftovers(kube, compute) == [], 60, "clean cluster", 0.5)


def test_sigkill_mid_load_leaves_no_load(lab: LabHandle, kube: KubeAdapter,
                                         compute: ComputeAdapter, tmp_path: Path,
                                         outage_zone: str) -> None:
    """The run's Locust is found by its run marker in /proc environ; the target, a loopback
    server of this test, counts what it receives."""
    with Target() as target:
        proc = start(lab, tmp_path, "signal", outage_zone, target=target.url)
        ledger = wait_fault_held(tmp_path, proc)
        run_id = ledger.resolve().parent.name  # not `latest`, the symlink to it
        eventually(lambda: load_pids(run_id), 30, "the run's load processes")
        hits = target.hits["/"]
        eventually(lambda: target.hits["/"] > hits + 50, 15, "load reaching the target")
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        killed = time.monotonic()
        eventually(lambda: not load_pids(run_id), 15, "no load process of the killed run")
        print(f"last load process gone {time.monotonic() - killed:.2f}s after SIGKILL")
        time.sleep(0.5)  # requests in flight when the last process went
        quiet = target.hits["/"]
        time.sleep(3)
        assert target.hits["/"] == quiet, "the target still receives requests"
    recover = subprocess.run([sys.executable, "-m", "gameday.cli", "recover", "--ledger",
                              str(ledger), "--lab-dir", str(lab.state_dir)], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert recover.returncode == 0, recover.stdout + recover.stderr
    assert "load process" not in recover.stdout  # nothing was left for recover to stop
    eventually(lambda: leftovers(kube, compute) == [], 60, "clean cluster", 0.5)
