"""Nothing a run starts survives it (issue 14): real Locust processes against a loopback server.

- the guard stops a Locust whose lease is not renewed, from a file or over its web UI;
- a LoadRun keeps its lease fresh, and stops renewing once the scenario's plan is over;
- the harness SIGKILLed: its load is gone within seconds (parent-death signal), and the target
  stops receiving requests;
- the same without the parent-death signal: `gameday recover` finds and stops the leftovers
  by their run marker while their lease is still fresh.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.load import LoadRun, LoadSpec
from gameday.load.runner import _free_port
from gameday.load.wrapper import (
    LEASE_FILE_ENV,
    LEASE_ROUTE,
    LEASE_S_ENV,
    RUN_ENV,
    write_wrapper,
)
from tests.helpers import eventually
from tests.unit.test_load_run import Target

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    with Target() as t:
        yield t


def load_pids(run_id: str) -> list[int]:
    """Live (not zombie) processes whose environment carries the load run's marker, or that of
    a load run of game-day run `run_id` (`<run_id>-<n>`)."""
    prefix = f"{RUN_ENV}={run_id}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in "ZX" and any(v == prefix or v.startswith(prefix + b"-")
                                     for v in environ):
            pids.append(int(entry.name))
    return pids


def locust(tmp_path: Path, host: str, env: dict[str, str], *args: str) -> subprocess.Popen:
    """A bare Locust with the run's generated locustfile (guard included), env as given."""
    wrapper = write_wrapper(tmp_path, None, None)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GAMEDAY_LOAD")}
    full_env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(wrapper), "--host", host, "-u", "2",
         "-r", "2", "--json-file", str(tmp_path / "load"), *args],
        env={**full_env, **env}, cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)


def test_guard_stops_when_the_lease_file_goes_stale(target: Target, tmp_path: Path) -> None:
    """Nobody touches the file: the run stops ~lease_s after its last renewal, gracefully
    (final JSON and failures file written), saying why."""
    lease = tmp_path / "load.lease"
    lease.touch()
    started = time.monotonic()
    proc = locust(tmp_path, target.url, {LEASE_FILE_ENV: str(lease), LEASE_S_ENV: "2"},
                  "--headless", "-t", "60s")
    out, _ = proc.communicate(timeout=20)
    assert time.monotonic() - started < 8
    assert "lease not renewed for" in out and f"lease file {lease}" in out
    assert proc.returncode == 0
    assert json.loads((tmp_path / "load.json").read_text())  # Locust's own final stats
    assert (tmp_path / "load_failures.json").exists()


def test_guard_lease_over_the_web_ui(target: Target, tmp_path: Path) -> None:
    """No file, only a length: POST /gameday/lease on the web UI renews it; unrenewed, the run
    stops like with a file."""
    port = _free_port()
    proc = locust(tmp_path, target.url, {LEASE_S_ENV: "2"}, "--autostart", "--web-host",
                  "127.0.0.1", "--web-port", str(port))
    try:
        def renew() -> int | None:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}{LEASE_ROUTE}",
                                                 method="POST")
                with urllib.request.urlopen(request, timeout=2) as resp:
                    return resp.status
            except OSError:
                return None

        assert eventually(renew, 10, "the web UI to answer the lease route") == 204
        for _ in range(6):  # 6 s renewed every second: three lease lengths
            assert renew() == 204 and proc.poll() is None
            time.sleep(1)
        stopped = time.monotonic()
        out, _ = proc.communicate(timeout=15)
        assert time.monotonic() - stopped < 5
        assert f"POST {LEASE_ROUTE}" in out and "lease not renewed" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


def test_web_lease_without_a_web_ui_refuses_to_start(target: Target, tmp_path: Path) -> None:
    proc = locust(tmp_path, target.url, {LEASE_S_ENV: "2"}, "--headless", "-t", "30s")
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode != 0
    assert "refusing to send load nobody could stop" in out


def test_load_run_renews_and_stops_renewing_after_its_plan(target: Target,
                                                           tmp_path: Path) -> None:
    """Renewed, a run outlives its lease length many times; once the scenario is margin_s
    past its last announced step, the renewals stop and so does the load."""
    run = LoadRun(LoadSpec(host=target.url, users=2), tmp_path / "run", lease_s=2,
                  margin_s=1, start_timeout_s=10)
    with run:
        run.extend(5)
        time.sleep(5)  # 2.5 lease lengths
        assert run.running
        eventually(lambda: not run.running, 15, "the load to stop after the planned end")
    assert "lease not renewed" in (tmp_path / "run" / "locust.log").read_text()
    assert run.result().requests > 0


HARNESS = """
import sys, threading, time
from pathlib import Path

from gameday.load import LoadRun, LoadSpec

host, out, run_id, tied, lease_s = sys.argv[1:6]
if tied == "untied":  # a harness whose load would not die with it: only recover can help
    import gameday.load.spawn
    gameday.load.spawn._die_with_parent = lambda parent: (lambda: None)
run = LoadRun(LoadSpec(host=host, users=2, workers=1), Path(out), run_id=run_id,
              lease_s=float(lease_s))
starter = threading.Thread(target=run.start)  # ends right away: load must outlive it
starter.start()
starter.join()
print("started", flush=True)
time.sleep(120)
"""


def start_harness(target: Target, tmp_path: Path, run_id: str, tied: str,
                  lease_s: float = 30) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HARNESS, target.url, str(tmp_path / "run"), run_id, tied,
         str(lease_s)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # bounded: LoadRun.start raises after its start timeout
    assert line.strip() == "started", line + proc.stdout.read()
    assert len(load_pids(run_id)) == 2  # master and worker, started from a finished thread
    hits = target.hits["/"]
    eventually(lambda: target.hits["/"] > hits + 100, 10, "load reaching the target")
    return proc


def assert_target_quiet(target: Target, run_id: str) -> None:
    assert load_pids(run_id) == []
    time.sleep(0.5)  # requests in flight when the last process went
    quiet = target.hits["/"]
    time.sleep(2)
    assert target.hits["/"] == quiet, "the target still receives requests"


def test_sigkilled_harness_leaves_no_load(target: Target, tmp_path: Path) -> None:
    proc = start_harness(target, tmp_path, "kill-1", "tied")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=5)
    killed = time.monotonic()
    eventually(lambda: not load_pids("kill-1"), 15, "the load processes to end")
    took = time.monotonic() - killed
    print(f"last load process gone {took:.2f}s after SIGKILL")
    assert took < 5
    assert_target_quiet(target, "kill-1")


def test_recover_stops_load_of_a_dead_harness_with_a_fresh_lease(target: Target,
                                                                 tmp_path: Path) -> None:
    proc = start_harness(target, tmp_path, "untied-1", "untied")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=5)
    time.sleep(2)
    assert len(load_pids("untied-1")) == 2, "without PDEATHSIG the load must outlive the harness"
    out = subprocess.run(
        [sys.executable, "-m", "gameday.cli", "recover", "--report-dir", str(tmp_path / "none")],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "stopped 2 load processes of run untied-1 (its harness (pid " in out.stdout
    assert "nothing to recover" in out.stdout
    assert_target_quiet(target, "untied-1")


def test_stopped_harness_load_ends_with_its_lease(target: Target, tmp_path: Path) -> None:
    """SIGSTOP: the parent is alive, so no parent-death signal; the lease ends the load."""
    proc = start_harness(target, tmp_path, "stopped-1", "tied", lease_s=3)
    try:
        proc.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        eventually(lambda: not load_pids("stopped-1"), 15, "the load of a stopped harness")
        assert time.monotonic() - stopped < 3 + 4  # lease, renewal period, a check, shutdown
        assert "lease not renewed" in (tmp_path / "run" / "master.log").read_text()
        assert_target_quiet(target, "stopped-1")
    finally:
        proc.kill()
        proc.wait(timeout=5)


def test_recover_stops_a_stopped_harness_load_but_not_a_live_one(target: Target,
                                                                  tmp_path: Path) -> None:
    proc = start_harness(target, tmp_path, "stopped-2", "tied")
    live = LoadRun(LoadSpec(host=target.url, users=1), tmp_path / "live", run_id="live-1")
    try:
        with live:
            proc.send_signal(signal.SIGSTOP)
            out = subprocess.run(
                [sys.executable, "-m", "gameday.cli", "recover", "--report-dir",
                 str(tmp_path / "none")], cwd=ROOT, capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            assert (f"stopped 2 load processes of run stopped-2 (its harness (pid {proc.pid}) "
                    "is stopped)") in out.stdout
            assert "live-1" not in out.stdout and live.running
        assert live.killed == []
    finally:
        proc.kill()
        proc.wait(timeout=5)
    assert load_pids("stopped-2") == []
