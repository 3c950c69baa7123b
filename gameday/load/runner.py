"""Run Locust as child processes for the length of a fault, and always clean up after it.

Locust runs out of process (`python -m locust`): in the pytest process gevent's monkey-patching
clashes with kubernetes' ssl and google-cloud-compute's grpc (see shared ECOSYSTEM). Each run
owns a folder with the generated locustfile, Locust's logs, CSVs and JSON. Stopping is SIGTERM
(Locust's graceful stop, which writes the final JSON), then SIGKILL after a bound; every child
is reaped, also when the scenario fails (context-manager exit). While it runs, each load
process serves client-side metrics on a loopback port, listed in a Prometheus file_sd target.

Nothing a run starts may outlive the harness, however it dies (issue 14: a SIGKILLed pytest
once left an hour of load running against an ingress). Two mechanisms, because each covers
what the other cannot:
- the kernel SIGTERMs every Locust process when the harness dies (PR_SET_PDEATHSIG, see
  gameday/load/spawn.py): immediate, SIGKILL of the harness included, but only for a parent
  on this machine that really died;
- a lease (gameday/load/guard.py): a thread of LoadRun touches `load.lease` every
  LEASE_RENEW_S, and a Locust process whose lease is older than `lease_s` stops by itself. It
  also covers a harness that is stopped (SIGSTOP, a suspended CI job) or stuck, and it is what
  load placed in a cluster, with no parent process there, is kept alive by.
The lease also carries the run's planned length: given a margin_s and no run_time_s, the
renewals stop once the scenario is margin_s past the last step it announced with `extend()`,
so a harness stuck in one step does not keep load going for the hour of the safety cap.
Each process carries the run id in $GAMEDAY_LOAD_RUN, which `gameday recover` finds a killed
run's leftovers by (gameday/load/reaper.py).

    with LoadRun(LoadSpec(host="http://127.0.0.1:8080"), out_dir, targets_dir=t) as load:
        ...inject the fault, wait for recovery...
    result = load.result()
"""

from __future__ import annotations

import json
import math
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

import gameday
from gameday.errors import ConditionTimeout, LoadError
from gameday.load.spawn import popen_tied
from gameday.load.spec import LoadSpec
from gameday.load.stats import LoadResult, read_result
from gameday.load.wrapper import (
    DEADLINE_ENV,
    DEFAULT_LEASE_S,
    DEFAULT_USER_FILE,
    HARNESS_PID_ENV,
    LEASE_FILE_ENV,
    LEASE_S_ENV,
    PORT_ENV,
    RUN_ENV,
    write_wrapper,
)

# Seconds a process may take past its time limit before its own guard SIGTERMs it.
GUARD_GRACE_S = 10.0
_POLL_S = 0.1
# Until the first request is answered; remote workers (pods being scheduled) get as long as a
# Locust worker keeps retrying to reach its master.
START_TIMEOUT_S = 30.0
REMOTE_START_TIMEOUT_S = 300.0
_SCRAPE_TIMEOUT_S = 1.0
# After the first failed request, how long the target has to answer one before the start fails.
UNANSWERED_S = 5.0
# The lease is touched this often; its length (lease_s) must leave room for a few misses.
LEASE_RENEW_S = 2.0


class LoadRun:
    """One Locust run: start() it, let the fault happen, stop() it, then read result().

    out_dir receives `locust.log` (and `worker-N.log`), `load.json`, `load_stats_history.csv`,
    `load_failures.json`, and `load.lease` while it runs. targets_dir, when given, receives
    `gameday-load-<run_id>.json`, a Prometheus file_sd target for the run's metrics, removed
        again on stop. With spec.run_time_s the run ends at that time (the guard's hard deadline a
    little later). Without, it runs until stop(), at most SAFETY_CAP_S; and with margin_s,
    only while the caller keeps announcing its steps with `extend()`: at most margin_s past
    the end of the last one (the first one: start_timeout_s).
    """

    def __init__(self, spec: LoadSpec, out_dir: Path, *, targets_dir: Path | None = None,
                 run_id: str | None = None, start_timeout_s: float | None = None,
                 stop_timeout_s: float = 10.0, margin_s: float | None = None,
                 lease_s: float = DEFAULT_LEASE_S) -> None:
        self.spec = spec
        self.out_dir = Path(out_dir)
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self.start_timeout_s = start_timeout_s or (
            REMOTE_START_TIMEOUT_S if spec.remote_workers else START_TIMEOUT_S)
        self.stop_timeout_s = stop_timeout_s
        self.metrics_addresses: list[str] = []
        self.sd_file = (Path(targets_dir) / f"gameday-load-{self.run_id}.json"
                        if targets_dir is not None else None)
        self.killed: list[str] = []  # names of processes that needed SIGKILL
        self.exit_code: int | None = None
        self._procs: dict[str, subprocess.Popen] = {}
        self._logs: dict[str, Path] = {}
        self._prefix = self.out_dir / "load"
        self.margin_s = margin_s
        self.lease_s = lease_s
        self.lease_file = self.out_dir / "load.lease"
        self._planned_end = math.inf  # wall clock the renewals stop at; set by start/extend
        self._stopping = threading.Event()
        self._renewer: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, wait_for_requests: bool = True) -> LoadRun:
        """Spawn Locust; unless told not to, return only once requests are being answered.

        Raises LoadError with the tail of Locust's log if a process exits early (broken
        locustfile, unknown user class), if no request completes within start_timeout_s, or
        naming the target and its errors if it answers none (see _wait_for_requests).
        """
        if self._procs:
            raise LoadError(f"load run {self.run_id} was already started; use a new LoadRun")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for name in ("load.json", "load_failures.json"):  # a reused folder must not lend its
            (self.out_dir / name).unlink(missing_ok=True)  # old results to a failed run
        wrapper = write_wrapper(self.out_dir, self.spec.locustfile, self.spec.shape)
        deadline = time.time() + self.spec.time_limit_s + GUARD_GRACE_S
        if self.spec.run_time_s is None and self.margin_s is not None:
            self._planned_end = time.time() + self.start_timeout_s + self.margin_s
        self._start_lease()
        try:
            if self.spec.workers == 0:
                port = _free_port()
                self._spawn("locust", self._main_args(wrapper), deadline, port)
                self.metrics_addresses = [f"127.0.0.1:{port}"]
            else:
                self._start_distributed(wrapper, deadline)
            self._write_sd_file()
            if wait_for_requests:
                self._wait_for_requests()
        except BaseException:
            self.stop()
            raise
        return self

    def extend(self, seconds: float) -> None:
        """The caller needs the load for `seconds` more (a phase's window, a bounded wait):
        keep renewing the lease until then plus margin_s. With margin_s and no run_time_s this
        is what the run's length follows; otherwise (the user's duration wins) a no-op."""
        if self.spec.run_time_s is None and self.margin_s is not None:
            self._planned_end = max(self._planned_end, time.time() + seconds + self.margin_s)

    def wait(self, timeout_s: float) -> int:
        """Wait for the run to end by itself (run time reached, shape ended); its exit code.

        Locust exits 1 when any request failed: that is a result, not an error here.
        """
        main = self._procs.get(self._main_name)
        if main is None:
            raise LoadError(f"load run {self.run_id} was never started")
        try:
            main.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise ConditionTimeout(f"load run {self.run_id} to end by itself", timeout_s,
                                   f"still running; see {self._logs[self._main_name]}") from exc
        self.stop()
        return main.returncode

    def stop(self) -> None:
        """SIGTERM the run, SIGKILL what is left after stop_timeout_s, reap all; idempotent."""
        main = self._procs.get(self._main_name)
        if main is not None:
            _signal(main, signal.SIGTERM)
            self._reap([main], self.stop_timeout_s)
            self.exit_code = main.returncode
        # workers quit when their master tells them; any left over get the same treatment
        workers = [p for n, p in self._procs.items() if n != self._main_name]
        for proc in workers:
            _signal(proc, signal.SIGTERM)
        self._reap(workers, self.stop_timeout_s)
        self._stopping.set()
        if self._renewer is not None:
            self._renewer.join(timeout=LEASE_RENEW_S + 1)
        self.lease_file.unlink(missing_ok=True)
        if self.sd_file is not None:
            self.sd_file.unlink(missing_ok=True)

    def result(self) -> LoadResult:
        """Totals and timeline of the finished run (all workers together)."""
        if any(p.poll() is None for p in self._procs.values()):
            raise LoadError(f"load run {self.run_id} is still running: stop() or wait() first")
        if not self._procs:
            raise LoadError(f"load run {self.run_id} was never started")
        return read_result(self._prefix)

    @property
    def _main_name(self) -> str:
        """The process that owns the run's stats: the only one, or the master."""
        return "master" if self.spec.workers else "locust"

    @property
    def running(self) -> bool:
        return any(p.poll() is None for p in self._procs.values())

    def __enter__(self) -> LoadRun:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- internals -------------------------------------------------------------------------

    def _main_args(self, wrapper: Path) -> list[str]:
        spec = self.spec
        return [
            "-f", str(wrapper), "--headless", "--only-summary",
            "--host", spec.host, "-u", str(spec.users), "-r", f"{spec.spawn_rate:g}",
            "-t", f"{max(1, math.ceil(spec.time_limit_s))}s",
            "--csv", str(self._prefix), "--csv-full-history",
            "--json-file", str(self._prefix),
            *spec.extra_args, *(spec.user_classes or []),
        ]

    def _start_distributed(self, wrapper: Path, deadline: float) -> None:
        """A master (no users, no metrics) and N workers, each serving its own metrics port:
        Prometheus sums them, so counts are as fresh as the scrape, not Locust's 3 s reports.
        The master starts the users only once every worker, local and remote, has joined."""
        spec = self.spec
        master_port = spec.master_port or _free_port()
        self._spawn("master", [
            *self._main_args(wrapper), "--master", "--master-bind-host", spec.master_bind,
            "--master-bind-port", str(master_port),
            "--expect-workers", str(spec.workers + spec.remote_workers),
            "--expect-workers-max-wait", str(max(1, math.ceil(self.start_timeout_s))),
        ], deadline, None)
        for i in range(spec.workers):
            port = _free_port()
            self._spawn(f"worker-{i}", [
                "-f", str(wrapper), "--worker", "--host", spec.host,
                "--master-host", _reach(spec.master_bind), "--master-port", str(master_port),
                *spec.extra_args,
            ], deadline, port)
            self.metrics_addresses.append(f"127.0.0.1:{port}")

    def remote_worker_command(self, master_host: str | None = None) -> list[str]:
        """What to run on each remote worker (with a copy of the locustfile in its folder):
        `locust -f FILE --worker --master-host HOST --master-port PORT --host URL`.
        master_host defaults to master_bind; pass the address your workers reach it by. For the
        default user, FILE is gameday/load/default_user.py of the worker's own gameday install."""
        spec = self.spec
        if not spec.remote_workers or spec.master_port is None:
            raise LoadError("this run expects no remote workers: set LoadSpec.remote_workers "
                            "and master_port")
        locustfile = spec.locustfile.name if spec.locustfile else str(DEFAULT_USER_FILE)
        return ["locust", "-f", locustfile, "--worker",
                "--master-host", master_host or _reach(spec.master_bind),
                "--master-port", str(spec.master_port), "--host", spec.host,
                *spec.extra_args]

    def _start_lease(self) -> None:
        """Write the lease before any process can look at it, then renew it from a daemon
        thread: one that stops with the harness, whether it exits, dies or is stopped."""
        self.lease_file.touch()
        self._stopping.clear()
        self._renewer = threading.Thread(target=self._renew, daemon=True,
                                         name=f"gameday-load-lease-{self.run_id}")
        self._renewer.start()

    def _renew(self) -> None:
        while not self._stopping.wait(LEASE_RENEW_S):
            if time.time() > self._planned_end:
                print(f"gameday: load run {self.run_id} is {self.margin_s:g}s past the last "
                      "step the scenario announced; no longer renewing its lease, so its "
                      f"Locust processes stop within {self.lease_s:g}s", file=sys.stderr)
                return
            self.lease_file.touch()

    def _spawn(self, name: str, args: list[str], deadline: float, port: int | None) -> None:
        log = self.out_dir / f"{name}.log"
        package_root = str(Path(gameday.__file__).resolve().parent.parent)
        env = {**os.environ, DEADLINE_ENV: f"{deadline:.3f}", RUN_ENV: self.run_id,
               LEASE_FILE_ENV: str(self.lease_file.resolve()), LEASE_S_ENV: f"{self.lease_s:g}",
               HARNESS_PID_ENV: str(os.getpid()),
               "PYTHONPATH": os.pathsep.join(
                   p for p in (package_root, os.environ.get("PYTHONPATH")) if p)}
        env.pop(PORT_ENV, None)
        if port is not None:
            env[PORT_ENV] = str(port)
        with open(log, "wb") as out:
            self._procs[name] = popen_tied(
                [sys.executable, "-m", "locust", *args], stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=env, cwd=self.out_dir, start_new_session=True,
            )
        self._logs[name] = log

    def _write_sd_file(self) -> None:
        """Atomically (Prometheus may read the folder at any moment)."""
        if self.sd_file is None:
            return
        self.sd_file.parent.mkdir(parents=True, exist_ok=True)
        target = [{"targets": self.metrics_addresses,
                   "labels": {"job": "gameday-load", "run": self.run_id}}]
        tmp = self.sd_file.with_name(f".{self.sd_file.name}.tmp")
        tmp.write_text(json.dumps(target))
        tmp.replace(self.sd_file)

    def _wait_for_requests(self) -> None:
        """Until the target answers a request (any status). A target that only refuses, resets
        or times out is a start error naming it, raised before the scenario injects anything:
        such a game day could only measure its own wrong URL. Answers are looked for until
        UNANSWERED_S after the first failed request (a target still coming up gets that long)."""
        deadline = time.monotonic() + self.start_timeout_s
        first_failure: float | None = None
        while time.monotonic() < deadline:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise LoadError(
                        f"Locust ({name}) exited with code {proc.returncode} before sending "
                        f"load; last lines of {self._logs[name]}:\n{_tail(self._logs[name])}")
            sent, answered = self._request_counts()
            if answered > 0:
                return
            if sent > 0:
                first_failure = first_failure or time.monotonic()
                if time.monotonic() - first_failure > UNANSWERED_S:
                    self._unreachable(sent)
            time.sleep(_POLL_S)
        hint = ""
        if self.spec.remote_workers:
            hint = (f"; the master waits for {self.spec.remote_workers} remote worker(s) on "
                    f"{self.spec.master_bind}:{self.spec.master_port}: are they running "
                    f"`{shlex.join(self.remote_worker_command())}` and can they reach it?")
        raise LoadError(
            f"Locust sent no request within {self.start_timeout_s:g}s ({self.spec.host}){hint}; "
            f"last lines of its logs:\n" + "\n".join(_tail(p) for p in self._logs.values()))

    def _unreachable(self, sent: float) -> None:
        """Stop the run (its failures file says why the requests failed) and raise."""
        self.stop()
        try:
            errors = json.loads((self.out_dir / "load_failures.json").read_text())
            why = "; ".join(f"{e['error']} x{e['occurrences']}" for e in errors[:3])
        except (OSError, ValueError, KeyError, TypeError):
            why = f"see {self._logs[self._main_name]}"
        raise LoadError(
            f"the load target {self.spec.host} does not answer: {sent:g} requests, none got a "
            f"response within {UNANSWERED_S:g}s ({why}): the load did not start; check the URL "
            "and that this machine reaches it")

    def _request_counts(self) -> tuple[float, float]:
        """(requests completed, of which answered with any status) from the load processes'
        metrics; an exporter not listening yet counts as 0."""
        total = answered = 0.0
        for address in self.metrics_addresses:
            try:
                with urllib.request.urlopen(f"http://{address}/metrics",
                                            timeout=_SCRAPE_TIMEOUT_S) as resp:
                    text = resp.read().decode()
            except OSError:
                continue  # not listening yet: the caller polls again
            for family in text_string_to_metric_families(text):
                if family.name == "gameday_load_requests":
                    for sample in family.samples:
                        if sample.name.endswith("_total"):
                            total += sample.value
                            if sample.labels.get("code_class") != "error":
                                answered += sample.value
        return total, answered

    def _reap(self, procs: list[subprocess.Popen], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(proc, signal.SIGKILL)
                self.killed.append(next(n for n, p in self._procs.items() if p is proc))
                proc.wait(timeout=5)


def _signal(proc: subprocess.Popen, sig: signal.Signals) -> None:
    """Signal a child we have not reaped yet (so its pid cannot have been reused)."""
    if proc.poll() is None:
        proc.send_signal(sig)


def _reach(bind: str) -> str:
    """The address a worker on this machine connects to for a master bound to `bind`."""
    return "127.0.0.1" if bind in ("", "*", "0.0.0.0") else bind


def _free_port() -> int:
    """A loopback port free right now; the tiny race with other binders is acceptable here."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"({path} was not written)"
