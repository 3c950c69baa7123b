"""Runner placement's own Prometheus: the run starts one on loopback to scrape its Locust.

Why: when Locust runs on the machine running pytest (a CI runner) and the target is a real
cluster, the cluster's Prometheus cannot reach this machine, so the client-side series would
never exist there and every load SLO would be "no data". The run starts the same Prometheus
binary the lab installs (Debian's `prometheus` package: `apt-get install prometheus` on a CI
runner, or any `prometheus` on PATH), scraping the load processes through a file_sd folder
that LoadRun already writes targets into. Load SLOs are judged there; server-side ones at
--prometheus-url.

It is tied to the harness like the load itself (gameday/load/spawn.py): SIGTERMed when the
pytest process dies, however it dies, and stopped by RunContext.close() otherwise. It also
carries the load processes' markers (the game-day run id and the harness pid, names in
gameday/load/wrapper.py), so `gameday recover` stops it like a load process left behind when
the harness is stopped (SIGSTOP) rather than dead, or when the parent-death signal was lost.
Its data folder lives in the run folder, so the raw samples stay with the report.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from gameday.errors import ConditionTimeout, UsageError
from gameday.load.spawn import popen_tied
from gameday.load.wrapper import HARNESS_PID_ENV, RUN_ENV

BINARY_CANDIDATES = ("prometheus", "/usr/bin/prometheus")
JOB = "gameday-load"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def find_binary() -> str:
    """The Prometheus binary, or a UsageError that says how to get one."""
    for candidate in BINARY_CANDIDATES:
        if path := shutil.which(candidate):
            return path
    raise UsageError("runner load placement off the lab needs Prometheus on this machine to "
                     "scrape the load: `apt-get install prometheus` (Debian/Ubuntu) or put a "
                     "`prometheus` binary on PATH; or run the load in the cluster with "
                     "--load-placement cluster")


class LocalPrometheus:
    """One Prometheus on 127.0.0.1 scraping every file_sd target under `targets_dir`;
    `run_id` is the game-day run's, by which `gameday recover` finds it."""

    def __init__(self, workdir: Path, run_id: str, scrape_interval_s: float = 1.0) -> None:
        self.workdir = Path(workdir)
        self.run_id = run_id
        self.targets_dir = self.workdir / "targets"
        self.scrape_interval_s = scrape_interval_s
        self.url: str | None = None
        self._proc: subprocess.Popen | None = None

    def start(self) -> str:
        """Start it and return its URL once it answers /-/ready."""
        binary = find_binary()
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        interval = f"{self.scrape_interval_s:g}s"
        config = self.workdir / "prometheus.yml"
        config.write_text(json.dumps({
            "global": {"scrape_interval": interval, "scrape_timeout": interval},
            "scrape_configs": [{"job_name": JOB, "file_sd_configs": [{
                "files": [str(self.targets_dir / "*.json")], "refresh_interval": "1s"}]}],
        }))
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        with open(self.workdir / "prometheus.log", "wb") as log:
            self._proc = popen_tied(
                [binary, f"--config.file={config}",
                 f"--storage.tsdb.path={self.workdir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, RUN_ENV: self.run_id, HARNESS_PID_ENV: str(os.getpid())})
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self._ready():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                log_tail = (self.workdir / "prometheus.log").read_text(errors="replace")
                self.stop()
                raise ConditionTimeout(f"the run's Prometheus at {self.url} to be ready",
                                       READY_TIMEOUT_S, log_tail[-1500:])
            time.sleep(0.2)
        return self.url

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM, SIGKILL after a bound; idempotent."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
