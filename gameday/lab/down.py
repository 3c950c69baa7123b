"""`gameday lab down`: stop everything a lab started, verify nothing is left, optionally purge.

Pod processes carry the lab's state folder in their environment (GAMEDAY_LAB_STATE), so even a
pod process orphaned by a crashed labd is found and stopped here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
from pathlib import Path

from gameday.errors import LabError
from gameday.lab import procs
from gameday.lab.hollow.pods import LAB_ENV_MARKER
from gameday.lab.state import STATE_FILE, LabState
from gameday.lab.waits import port_taken

STOP_ORDER = ("prometheus", "ingress", "kubestate", "labd", "kube-scheduler",
              "kube-controller-manager", "kube-apiserver", "etcd")


def lab_pids(state_dir: Path) -> list[int]:
    """Processes whose environment names this lab (pod processes), found through /proc."""
    marker = f"{LAB_ENV_MARKER}={state_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def stop_all(state: LabState, quiet: bool = False) -> list[str]:
    """Stop the lab's processes in reverse start order; return the names that needed SIGKILL."""
    order = [n for n in STOP_ORDER if n in state.processes]
    order += [n for n in state.processes if n not in order]
    killed = procs.stop([state.processes[n] for n in order])
    for pid in lab_pids(state.dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    busy = [f"{name}={port}" for name, port in state.ports.items() if port_taken(port)]
    leftovers = lab_pids(state.dir)
    if busy or leftovers:
        raise LabError(f"lab stopped but something is left: ports still in use {busy}, "
                       f"pod processes {leftovers}")
    if not quiet and killed:
        print(f"needed SIGKILL: {', '.join(killed)}", file=sys.stderr)
    return killed


def down(state_dir: Path, purge: bool = False, keep_data: bool = False) -> bool:
    """Stop the lab in `state_dir` (False: there was none). Without keep_data the Prometheus
    data goes too."""
    if not (state_dir / STATE_FILE).exists():
        if purge and state_dir.is_dir():
            shutil.rmtree(state_dir)
        return False
    state = LabState.load(state_dir)
    stop_all(state)
    if purge:
        shutil.rmtree(state_dir)
        return True
    if not keep_data:
        shutil.rmtree(state_dir / "prometheus" / "data", ignore_errors=True)
    for name in ("etcd", "pods"):
        shutil.rmtree(state_dir / name, ignore_errors=True)
    (state_dir / STATE_FILE).unlink()
    return True
