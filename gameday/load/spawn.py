"""Start load processes that die with the harness: PR_SET_PDEATHSIG, from a thread that lasts.

The kernel sends a child its parent-death signal when the *thread* that forked it ends, not
the process: load started by a LoadRun on a short-lived thread (a helper thread, a pool) would
be SIGTERMed as soon as that thread returned. So every load process is forked by one daemon
thread that never returns and ends only with the harness's process, however that ends
(SIGKILL included). The signal is SIGTERM, Locust's graceful stop, so the final stats are still
written. This covers a parent that died on this machine only; the lease in
gameday/load/guard.py covers a stopped or stuck one.
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

PR_SET_PDEATHSIG = 1
_SPAWN_TIMEOUT_S = 30.0


def popen_tied(args: list[str], **kwargs: Any) -> subprocess.Popen:
    """subprocess.Popen(args, **kwargs) for a child that gets SIGTERM when this process dies."""
    return _SPAWNER.popen(args, preexec_fn=_die_with_parent(os.getpid()), **kwargs)


def _die_with_parent(parent: int) -> Callable[[], None]:
    """preexec_fn: ask for SIGTERM on the forking thread's death, and give up at once if the
    harness already died before prctl took hold (the child was then re-parented)."""
    def arm() -> None:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(1)
    return arm


class _Spawner:
    """Runs every Popen on one daemon thread, started on first use."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Future, tuple, dict]] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def popen(self, *args: Any, **kwargs: Any) -> subprocess.Popen:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, daemon=True,
                                                name="gameday-load-spawner")
                self._thread.start()
        future: Future[subprocess.Popen] = Future()
        self._jobs.put((future, args, kwargs))
        return future.result(timeout=_SPAWN_TIMEOUT_S)

    def _serve(self) -> None:
        while True:
            future, args, kwargs = self._jobs.get()
            try:
                future.set_result(subprocess.Popen(*args, **kwargs))
            except BaseException as exc:  # handed to the caller, who raises it
                future.set_exception(exc)


_SPAWNER = _Spawner()
