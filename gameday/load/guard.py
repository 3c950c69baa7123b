"""Inside Locust: every run ends gracefully, at its hard deadline or when its lease runs out.

Gaps in Locust 2.47 this closes:
- `--run-time` does not bound a run that uses a LoadTestShape, and a worker whose master was
  killed waits 60 s before it gives up. So every process of a run SIGTERMs itself at the
  wall-clock deadline LoadRun passes in $GAMEDAY_LOAD_DEADLINE.
- In a headless shape run Locust installs its SIGTERM handler only after the shape has ended,
  so until then SIGTERM kills the process before it writes its final stats. Our handler, set
  at init, ends the shape instead: Locust then shuts down as if the shape had returned None,
  writing everything. For other runs it does nothing and Locust's own handler stops the run.
- Nothing in Locust notices that the harness which started it is gone. A game day must never
  leave load running after its harness died, so the harness holds a *lease* that it renews
  every couple of seconds; when the lease is older than $GAMEDAY_LOAD_LEASE_S the process
  stops its load and quits. The runner also asks the kernel for SIGTERM on its death
  (PR_SET_PDEATHSIG, gameday/load/runner.py), which is faster but covers only a parent on the
  same machine that actually died; the lease also covers a parent that is stopped (SIGSTOP, a
  suspended CI job) or stuck, and load placed in a cluster, where there is no parent process.

Where the lease is renewed (the first that applies):
- $GAMEDAY_LOAD_LEASE_FILE: a file whose modification time is the last renewal (LoadRun
  touches it from a thread; a missing file counts as not renewed since this process started).
- else, with $GAMEDAY_LOAD_LEASE_S set: `POST /gameday/lease` on this process's Locust web UI
  (a master run with the web UI, e.g. in a cluster pod) renews it in memory; 204 No Content.
  Until the first POST the lease counts as renewed when the process started.
- neither: no lease (a process started by hand, e.g. a remote worker; it follows its master).

Every stop is Locust's own graceful one (SIGTERM to itself), so the final JSON and the failures
file are still written, and the reason goes to stderr (the process's log).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping

import gevent
from locust import events

from gameday.load.wrapper import (
    DEADLINE_ENV,
    DEFAULT_LEASE_S,
    LEASE_FILE_ENV,
    LEASE_ROUTE,
    LEASE_S_ENV,
)

_CHECK_S = 1.0  # how often the lease is looked at: expiry is noticed within a second


class Lease:
    """When the harness last renewed this process's lease (wall clock), from a file or the web
    route; `age()` is what the guard compares with the lease length."""

    def __init__(self, length_s: float, path: str | None) -> None:
        self.length_s = length_s
        self.path = path
        self.renewed_at = time.time()  # the process start counts as the first renewal

    @property
    def source(self) -> str:
        return f"lease file {self.path}" if self.path else f"POST {LEASE_ROUTE}"

    def renew(self) -> None:
        self.renewed_at = time.time()

    def age(self) -> float:
        if self.path is not None:
            # a missing file (the run's folder removed) ages from the last renewal seen
            with contextlib.suppress(FileNotFoundError):
                self.renewed_at = max(self.renewed_at, os.stat(self.path).st_mtime)
        return time.time() - self.renewed_at


def lease_from_env(environ: Mapping[str, str]) -> Lease | None:
    """The lease this process must honour, or None when it was started without one."""
    path = environ.get(LEASE_FILE_ENV) or None
    length = environ.get(LEASE_S_ENV)
    if path is None and length is None:
        return None
    return Lease(float(length) if length else DEFAULT_LEASE_S, path)


def _quit(reason: str) -> None:
    """Locust's graceful stop (final stats and failures written), with the reason in the log."""
    print(f"gameday guard: {reason}; stopping the load (pid {os.getpid()})", file=sys.stderr,
          flush=True)
    os.kill(os.getpid(), signal.SIGTERM)


def _watch(lease: Lease) -> None:
    while (age := lease.age()) <= lease.length_s:
        gevent.sleep(_CHECK_S)
    _quit(f"lease not renewed for {age:.1f}s (limit {lease.length_s:g}s, {lease.source}): the "
         "harness that started this load is gone or stuck")


def _serve_lease_route(lease: Lease, web_ui) -> None:
    """Renew the lease over HTTP on Locust's own web UI (Flask), for a harness that reaches
    this process only over the network."""

    def renew() -> tuple[str, int]:
        lease.renew()
        return "", 204

    web_ui.app.add_url_rule(LEASE_ROUTE, "gameday_lease", renew, methods=["POST"])


@events.init.add_listener
def _arm(environment, web_ui=None, **_kwargs) -> None:
    def end_shape() -> None:
        shape = getattr(environment.runner, "shape_greenlet", None)
        if shape is not None:
            shape.kill(block=False)

    gevent.signal_handler(signal.SIGTERM, end_shape)
    deadline = os.environ.get(DEADLINE_ENV)
    if deadline:
        delay = max(0.0, float(deadline) - time.time())
        gevent.spawn_later(delay, _quit, f"hard deadline ${DEADLINE_ENV}={deadline} reached")
    lease = lease_from_env(os.environ)
    if lease is None:
        return
    if lease.path is None:
        if web_ui is None:
            raise SystemExit(f"gameday: ${LEASE_S_ENV} is set without ${LEASE_FILE_ENV}, so "
                             f"the lease is renewed by POST {LEASE_ROUTE} on the web UI, but "
                             "this process runs none (headless, or a worker): refusing to "
                             "send load nobody could stop")
        _serve_lease_route(lease, web_ui)
    gevent.spawn(_watch, lease)
