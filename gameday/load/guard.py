"""Inside Locust: every run ends gracefully, at the latest at its hard deadline.

Two gaps in Locust 2.47 this closes:
- `--run-time` does not bound a run that uses a LoadTestShape, and a worker whose master was
  killed waits 60 s before it gives up. A game day must never leave load running after the
  harness is gone, so every process of a run SIGTERMs itself at the wall-clock deadline
  LoadRun passes in $GAMEDAY_LOAD_DEADLINE.
- In a headless shape run Locust installs its SIGTERM handler only after the shape has ended,
  so until then SIGTERM kills the process before it writes its final stats. Our handler, set
  at init, ends the shape instead: Locust then shuts down as if the shape had returned None,
  writing everything. For other runs it does nothing and Locust's own handler stops the run.
"""

from __future__ import annotations

import os
import signal
import time

import gevent
from locust import events

from gameday.load.wrapper import DEADLINE_ENV


@events.init.add_listener
def _arm(environment, **_kwargs) -> None:
    def end_shape() -> None:
        shape = getattr(environment.runner, "shape_greenlet", None)
        if shape is not None:
            shape.kill(block=False)

    gevent.signal_handler(signal.SIGTERM, end_shape)
    deadline = os.environ.get(DEADLINE_ENV)
    if deadline:
        delay = max(0.0, float(deadline) - time.time())
        gevent.spawn_later(delay, os.kill, os.getpid(), signal.SIGTERM)
