"""LoadRun against a real aiohttp server on 127.0.0.1: Locust really runs, in subprocesses.

Each run is 1-3 s; the server counts what it received, so Locust's totals are checked against
an independent count. A request in flight when Locust stops reaches the server but is never
recorded by Locust, hence "within `users`" bounds.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from gameday.load import LoadError, LoadRun, LoadSpec
from gameday.load.runner import _free_port


class Target:
    """A loopback HTTP server: / answers 200, /bad answers 500; counts hits per path."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        return web.Response(status=500 if request.path == "/bad" else 200, text="x")

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def __enter__(self) -> Target:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=5)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    with Target() as t:
        yield t


def scrape(address: str) -> dict[tuple, float]:
    """gameday_load_requests_total samples of one exporter, keyed by their labels."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=2) as resp:
        text = resp.read().decode()
    return {
        (s.labels["method"], s.labels["name"], s.labels["code"], s.labels["code_class"]): s.value
        for f in text_string_to_metric_families(text) if f.name == "gameday_load_requests"
        for s in f.samples if s.name == "gameday_load_requests_total"
    }


def test_default_user_counts_match_the_server(target: Target, tmp_path: Path) -> None:
    before = target.hits["/"]
    run = LoadRun(LoadSpec(host=target.url, users=5, run_time_s=2), tmp_path / "run",
                  targets_dir=tmp_path / "targets", run_id="r1")
    with run:
        sd = json.loads((tmp_path / "targets" / "gameday-load-r1.json").read_text())
        assert sd == [{"targets": run.metrics_addresses,
                       "labels": {"job": "gameday-load", "run": "r1"}}]
        samples = scrape(run.metrics_addresses[0])
        assert set(samples) == {("GET", "/", "200", "2xx")}
        assert run.wait(timeout_s=15) == 0
    assert not (tmp_path / "targets" / "gameday-load-r1.json").exists()
    result = run.result()
    served = target.hits["/"] - before
    assert 0 <= served - result.requests <= 5
    assert result.requests > 100 and result.failures == 0
    assert 1.5 < result.duration_s < 3.5
    assert result.p50_ms is not None and result.p50_ms <= result.p95_ms <= result.p99_ms
    assert len(result.timeline) >= 2
    assert sum(p.rps for p in result.timeline) == result.requests
    assert max(p.users or 0 for p in result.timeline) == 5


OWN_LOCUSTFILE = '''
from locust import FastHttpUser, HttpUser, constant, task

class Mixed(HttpUser):
    wait_time = constant(0.01)

    @task
    def ok(self):
        self.client.get("/")

    @task
    def bad(self):
        self.client.get("/bad")

class Refused(FastHttpUser):
    wait_time = constant(0.05)

    @task
    def nothing_listens(self):
        self.client.get("http://127.0.0.1:{closed}/down", name="down")
'''


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: connections are refused, and no one else can take it
    (a merely free port may be handed to the run's own exporter)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def test_own_locustfile_outcomes_and_metrics(target: Target, tmp_path: Path,
                                             closed_port: int) -> None:
    locustfile = tmp_path / "own.py"
    locustfile.write_text(OWN_LOCUSTFILE.format(closed=closed_port))
    bad_before = target.hits["/bad"]
    run = LoadRun(LoadSpec(host=target.url, users=4, locustfile=locustfile), tmp_path / "run")
    with run:
        deadline = time.monotonic() + 10
        while len(samples := scrape(run.metrics_addresses[0])) < 3:
            assert time.monotonic() < deadline, f"not all outcomes seen: {samples}"
            time.sleep(0.2)
    # stopped within a second of the first failures: Locust's own _failures.csv lacks them
    assert set(samples) == {
        ("GET", "/", "200", "2xx"), ("GET", "/bad", "500", "5xx"), ("GET", "down", "0", "error"),
    }
    assert run.killed == [] and not run.running
    result = run.result()
    bad = result.by_request["GET /bad"]
    assert bad.failures == bad.requests > 0
    assert 0 <= target.hits["/bad"] - bad_before - bad.requests <= 4
    assert result.by_request["GET /"].failures == 0
    down = result.by_request["GET down"]
    assert down.failures == down.requests > 0
    assert result.failures == bad.failures + down.failures == sum(
        result.failures_by_error.values())
    assert any("500" in error for error in result.failures_by_error)
    assert any("refused" in error.lower() for error in result.failures_by_error)


SHAPES = '''
from locust import FastHttpUser, LoadTestShape, constant, task

class Pinger(FastHttpUser):
    wait_time = constant(0.02)

    @task
    def ping(self):
        self.client.get("/")

class Three(LoadTestShape):
    def tick(self):
        return (3, 10) if self.get_run_time() < 2 else None

class Seven(LoadTestShape):
    def tick(self):
        return (7, 10) if self.get_run_time() < 30 else None
'''


def test_chosen_shape_runs_and_ends_the_run(target: Target, tmp_path: Path) -> None:
    locustfile = tmp_path / "shapes.py"
    locustfile.write_text(SHAPES)
    run = LoadRun(LoadSpec(host=target.url, locustfile=locustfile, shape="Three"),
                  tmp_path / "run")
    with run:
        started = time.monotonic()
        run.wait(timeout_s=15)
        assert time.monotonic() - started < 5
    result = run.result()
    assert result.requests > 0
    assert {p.users for p in result.timeline if p.users} == {3}


@pytest.mark.parametrize("shape", [None, "Seven"])
def test_sigterm_stop_is_graceful_and_idempotent(target: Target, tmp_path: Path,
                                                 shape: str | None) -> None:
    """Also mid-shape, where Locust alone would die on SIGTERM without its final stats."""
    locustfile = tmp_path / "shapes.py"
    locustfile.write_text(SHAPES)
    spec = (LoadSpec(host=target.url, users=3) if shape is None
            else LoadSpec(host=target.url, locustfile=locustfile, shape=shape))
    run = LoadRun(spec, tmp_path / "run").start()
    time.sleep(0.5)
    started = time.monotonic()
    run.stop()
    assert time.monotonic() - started < 3
    run.stop()
    assert run.killed == [] and run.exit_code == 0
    assert (tmp_path / "run" / "load.json").exists()
    assert run.result().requests > 0


@pytest.mark.parametrize(("source", "shape", "expected"), [
    ("from locust import HttpUser\nthis_is_not_defined\n", None, "NameError"),
    (SHAPES, "Eleven", "'Eleven' is not a LoadTestShape class"),
])
def test_broken_locustfile_is_a_clear_error(target: Target, tmp_path: Path, source: str,
                                            shape: str | None, expected: str) -> None:
    locustfile = tmp_path / "broken.py"
    locustfile.write_text(source)
    run = LoadRun(LoadSpec(host=target.url, locustfile=locustfile, shape=shape),
                  tmp_path / "run")
    with pytest.raises(LoadError, match="exited with code") as caught:
        run.start()
    assert expected in str(caught.value)
    assert not run.running


def test_a_target_that_never_answers_fails_the_start(tmp_path: Path,
                                                    closed_port: int) -> None:
    """Before any fault: the error names the target and why its requests failed."""
    run = LoadRun(LoadSpec(host=f"http://127.0.0.1:{closed_port}", users=2), tmp_path / "run")
    started = time.monotonic()
    with pytest.raises(LoadError) as caught:
        run.start()
    assert time.monotonic() - started < 15
    message = str(caught.value)
    assert f"the load target http://127.0.0.1:{closed_port} does not answer" in message
    assert "Connection refused" in message or "ConnectionRefused" in message
    assert not run.running


def test_two_workers_share_the_load(target: Target, tmp_path: Path) -> None:
    before = target.hits["/"]
    run = LoadRun(LoadSpec(host=target.url, users=6, workers=2, run_time_s=2),
                  tmp_path / "run", targets_dir=tmp_path / "targets", run_id="w")
    with run:
        assert len(run.metrics_addresses) == 2
        sd = json.loads((tmp_path / "targets" / "gameday-load-w.json").read_text())
        assert sd[0]["targets"] == run.metrics_addresses
        deadline = time.monotonic() + 10
        while not all(scrape(a) for a in run.metrics_addresses):
            assert time.monotonic() < deadline, "a worker sent no request"
            time.sleep(0.2)
        run.wait(timeout_s=20)
    assert run.killed == []
    result = run.result()
    assert result.requests > 100
    assert 0 <= target.hits["/"] - before - result.requests <= 6


def test_harness_side_never_imports_locust() -> None:
    """gevent's monkey-patching must stay out of the pytest process (see ECOSYSTEM.md)."""
    code = "import sys, gameday.load; assert 'locust' not in sys.modules, 'locust imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30,
                   cwd=Path(__file__).resolve().parents[2])


def test_guard_ends_a_shape_that_outlives_run_time(target: Target, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Locust ignores --run-time with a shape; the guard still ends the run at the bound."""
    monkeypatch.setattr("gameday.load.runner.GUARD_GRACE_S", 0.5)
    locustfile = tmp_path / "shapes.py"
    locustfile.write_text(SHAPES)
    run = LoadRun(LoadSpec(host=target.url, locustfile=locustfile, shape="Seven",
                           run_time_s=1), tmp_path / "run")
    with run:
        started = time.monotonic()
        run.wait(timeout_s=15)
        assert time.monotonic() - started < 3
    assert run.killed == []
    assert run.result().requests > 0


REMOTE_LOCUSTFILE = """
from locust import FastHttpUser, constant, task

class Visitor(FastHttpUser):
    wait_time = constant(0.01)

    @task
    def page(self):
        self.client.get("{path}")
"""


def test_remote_workers_join_the_run(target: Target, tmp_path: Path) -> None:
    """A worker started elsewhere from the printed command, with its own copy of the
    locustfile (hitting another path here, to tell its requests apart), joins the run: the
    users start only once it is there, and the master's totals count both workers."""
    local, remote = tmp_path / "local", tmp_path / "remote"
    for folder, path in ((local, "/"), (remote, "/remote")):
        folder.mkdir()
        (folder / "locustfile.py").write_text(REMOTE_LOCUSTFILE.format(path=path))
    before = target.hits["/"] + target.hits["/remote"]
    spec = LoadSpec(host=target.url, users=4, workers=1, remote_workers=1,
                    master_port=_free_port(), locustfile=local / "locustfile.py", run_time_s=3)
    run = LoadRun(spec, tmp_path / "run")
    command = run.remote_worker_command()
    assert command[:3] == ["locust", "-f", "locustfile.py"]
    assert command[command.index("--master-port") + 1] == str(spec.master_port)
    worker = subprocess.Popen([sys.executable, "-m", *command], cwd=remote,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with run:
            assert run.wait(timeout_s=20) == 0
        assert worker.wait(timeout=15) == 0  # the master told it to quit
    finally:
        if worker.poll() is None:
            worker.kill()
    result = run.result()
    assert target.hits["/remote"] > 50
    served = target.hits["/"] + target.hits["/remote"] - before
    assert 0 <= served - result.requests <= spec.users


def test_a_remote_worker_that_never_comes_is_a_clear_error(target: Target,
                                                          tmp_path: Path) -> None:
    spec = LoadSpec(host=target.url, users=2, workers=1, remote_workers=1,
                    master_port=_free_port(), run_time_s=5)
    run = LoadRun(spec, tmp_path / "run", start_timeout_s=3)
    with pytest.raises(LoadError) as caught:
        run.start()
    assert f"waits for 1 remote worker(s) on 127.0.0.1:{spec.master_port}" in str(caught.value)
    assert not run.running
