"""Start and stop the lab's processes, and know for sure which ones are ours.

A pid alone is not an identity (pids are reused), so each record keeps the process start time
from /proc; `down` only signals a pid whose start time still matches. Stopping escalates from
SIGTERM to SIGKILL after a bound, because kube-apiserver takes over 5 s to exit on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from gameday.errors import LabError


@dataclass(frozen=True)
class ProcRecord:
    """A process the lab started: enough to find it again after our own process is gone."""

    name: str
    pid: int
    start_time: int  # field 22 of /proc/PID/stat: clock ticks since boot
    argv: list[str]
    log: str

    def to_dict(self) -> dict:
        return asdict(self)

    def alive(self) -> bool:
        return _start_time(self.pid) == self.start_time


def _start_time(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie is dead for our purposes
        return None
    return int(fields[19])


def spawn(name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> ProcRecord:
    """Start a detached process (own session, so Ctrl-C on `gameday` does not hit it)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    try:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True,
            )
    except OSError as exc:
        raise LabError(f"could not start {name} ({argv[0]}): {exc}") from exc
    started = None
    for _ in range(100):
        started = _start_time(proc.pid)
        if started is not None:
            break
        time.sleep(0.01)
    if started is None:
        raise LabError(f"{name} exited at once; see {log}:\n{tail(log)}")
    return ProcRecord(name, proc.pid, started, argv, str(log))


def terminate(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """Stop a child we hold a Popen for: SIGTERM, wait, SIGKILL if it will not go."""
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def tail(path: Path | str, lines: int = 15) -> str:
    """The last lines of a log, for error messages that show why a component died."""
    try:
        text = Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def stop(records: list[ProcRecord], timeout_s: float = 10.0) -> list[str]:
    """SIGTERM all (in the given order), wait up to timeout_s, then SIGKILL the rest.

    Returns the names that needed SIGKILL. Only processes whose start time still matches are
    signalled, so a reused pid is never touched.
    """
    live = [r for r in records if r.alive()]
    for rec in live:
        _signal_group(rec, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(r.alive() for r in live):
        _reap()
        time.sleep(0.05)
    killed = []
    for rec in live:
        if rec.alive():
            _signal_group(rec, signal.SIGKILL)
            killed.append(rec.name)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(r.alive() for r in live):
        _reap()
        time.sleep(0.05)
    still = [r.name for r in live if r.alive()]
    if still:
        raise LabError(f"could not stop {', '.join(still)} even with SIGKILL")
    return killed


def _signal_group(rec: ProcRecord, sig: signal.Signals) -> None:
    """Signal the whole process group: labd's pod processes die with it."""
    try:
        os.killpg(rec.pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(rec.pid, sig)


def _reap() -> None:
    """Collect exited children so they do not linger as zombies while we wait."""
    try:
        while True:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
    except ChildProcessError:
        return
