"""Stop the load a killed or stuck game day left running on this machine (`gameday recover`).

Normally nothing is left: a load process gets SIGTERM when its harness dies and stops by itself
when its lease goes stale (gameday/load/runner.py, guard.py). recover makes sure anyway, for a
load process whose guard could not act (stopped itself, a Locust that hangs in shutdown) and for
the seconds before a lease runs out, which on a production ingress are load nobody wants.

Load processes are found through /proc: each one a LoadRun started carries its load run id in
$GAMEDAY_LOAD_RUN and its harness's pid in $GAMEDAY_LOAD_HARNESS_PID. (Locust in a pod has none
and is not this module's to stop: on the lab, whose pods are local processes, its kubelet
would only restart it.) One is stopped when
- it belongs to a run recover was asked about (its load runs are `<run id>-<n>`), or
- it is left behind: its harness is gone (its parent is no longer that pid), stopped (SIGSTOP,
  a suspended job), or has not renewed its lease for longer than the lease allows.
A load process of a live game day (parent alive and running, fresh lease) is left alone, so
recover is safe on a machine where another game day runs.

Stopping is SIGTERM (Locust's graceful stop: the final stats are still written), then SIGKILL
for what is left after a bound. A pid is signalled only while it is still the process that was
found (same start time), never a newcomer that reused the pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gameday.load.wrapper import (
    DEFAULT_LEASE_S,
    HARNESS_PID_ENV,
    LEASE_FILE_ENV,
    LEASE_S_ENV,
    RUN_ENV,
)

PROC = Path("/proc")
STOP_TIMEOUT_S = 10.0
_POLL_S = 0.1


@dataclass(frozen=True)
class LoadProcess:
    pid: int
    started: int  # start time in clock ticks since boot: with pid, the process's identity
    run: str  # the load run id, $GAMEDAY_LOAD_RUN
    why: str  # why it is to be stopped, for the narration


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a process, or None when it is gone."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # the name in parentheses may hold spaces
    return fields[0], int(fields[1]), int(fields[19])


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = (PROC / str(pid) / "environ").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return {}  # gone, a zombie, or another user's: not ours to stop
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def _left_behind(env: dict[str, str], ppid: int, now: float) -> str:
    """Why a load process has no live harness any more, or "" when it has one."""
    harness = env[HARNESS_PID_ENV]
    if int(harness) != ppid:
        return f"its harness (pid {harness}) is gone"
    parent = _stat(ppid)
    if parent is not None and parent[0] in "Tt":
        return f"its harness (pid {ppid}) is stopped"
    lease, length = env.get(LEASE_FILE_ENV), float(env.get(LEASE_S_ENV) or DEFAULT_LEASE_S)
    if lease:
        try:
            age = now - os.stat(lease).st_mtime
        except FileNotFoundError:
            return f"its lease file {lease} is gone"
        if age > length:
            return f"its lease is {age:.0f}s old (limit {length:g}s)"
    return ""


def find_load(runs: Iterable[str] = ()) -> list[LoadProcess]:
    """The gameday load processes of this machine's user to stop: those of the given game-day
    runs, and every one left behind by its harness (see the module docstring)."""
    runs = tuple(runs)
    found = []
    now = time.time()
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        env = _environ(pid)
        run = env.get(RUN_ENV)
        stat = _stat(pid)
        if not run or HARNESS_PID_ENV not in env or stat is None or stat[0] in "ZX":
            continue
        if any(run == r or run.startswith(f"{r}-") for r in runs):
            why = "the run being recovered"
        else:
            why = _left_behind(env, stat[1], now)
        if why:
            found.append(LoadProcess(pid, stat[2], run, why))
    return found


def _alive(p: LoadProcess) -> bool:
    stat = _stat(p.pid)
    return stat is not None and stat[2] == p.started and stat[0] not in "ZX"


def _send(p: LoadProcess, sig: signal.Signals) -> None:
    if _alive(p):
        with contextlib.suppress(ProcessLookupError):  # ended between check and signal
            os.kill(p.pid, sig)


def stop_load(runs: Iterable[str] = (), timeout_s: float = STOP_TIMEOUT_S) -> list[str]:
    """Stop what find_load finds: SIGTERM, then SIGKILL after timeout_s; one line per load run,
    e.g. "stopped 3 load processes of run X (its harness (pid 4711) is gone)"."""
    procs = find_load(runs)
    for p in procs:
        _send(p, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while any(_alive(p) for p in procs) and time.monotonic() < deadline:
        time.sleep(_POLL_S)
    killed = [p for p in procs if _alive(p)]
    for p in killed:
        _send(p, signal.SIGKILL)
    lines = []
    for run in sorted({p.run for p in procs}):
        mine = [p for p in procs if p.run == run]
        forced = sum(p in killed for p in mine)
        lines.append(f"stopped {len(mine)} load process{'es' if len(mine) > 1 else ''} of "
                     f"run {run} ({mine[0].why})"
                     + (f"; {forced} needed SIGKILL after {timeout_s:g}s" if forced else ""))
    return lines
