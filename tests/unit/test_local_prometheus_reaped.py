"""The run-local Prometheus (runner load off the lab) ends with its harness, like the load.

A real Prometheus (the binary the lab uses) started by a LocalPrometheus in a subprocess
harness: SIGKILLed, the harness takes it along (parent-death signal); SIGSTOPped, the harness
is alive so no signal comes, and `gameday recover` finds the Prometheus by its run marker.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import eventually
from tests.unit.test_load_lease import load_pids

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("prometheus") is None,
                                reason="needs a prometheus binary (apt-get install prometheus)")

HARNESS = """
import sys, time
from pathlib import Path

from gameday.load.local_prometheus import LocalPrometheus

prom = LocalPrometheus(Path(sys.argv[1]), run_id=sys.argv[2])
print("started", prom.start(), flush=True)
time.sleep(120)
"""


def start_harness(tmp_path: Path, run_id: str) -> subprocess.Popen:
    """A harness running a LocalPrometheus, which alone carries the run's marker."""
    proc = subprocess.Popen([sys.executable, "-c", HARNESS, str(tmp_path / "prom"), run_id],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # bounded: start() raises after its ready timeout
    assert line.startswith("started http://127.0.0.1:"), line + proc.stdout.read()
    pids = load_pids(run_id)
    assert len(pids) == 1, f"one process should carry the run marker, found {pids}"
    return proc


def test_sigkilled_harness_takes_its_prometheus_along(tmp_path: Path) -> None:
    proc = start_harness(tmp_path, "prom-kill-1")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=5)
    killed = time.monotonic()
    eventually(lambda: not load_pids("prom-kill-1"), 15, "the run's Prometheus to end")
    assert time.monotonic() - killed < 5


def test_recover_stops_the_prometheus_of_a_stopped_harness(tmp_path: Path) -> None:
    proc = start_harness(tmp_path, "prom-stop-1")
    try:
        proc.send_signal(signal.SIGSTOP)
        out = subprocess.run(
            [sys.executable, "-m", "gameday.cli", "recover", "--report-dir",
             str(tmp_path / "none")], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert (f"stopped 1 load process of run prom-stop-1 (its harness (pid {proc.pid}) "
                "is stopped)") in out.stdout, out.stdout
        assert load_pids("prom-stop-1") == []  # gone, or a zombie of the stopped harness
    finally:
        proc.kill()
        proc.wait(timeout=5)
