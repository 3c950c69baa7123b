"""Inside Locust: end the process at the run's hard deadline, whatever else happens.

Locust's `--run-time` does not bound a run that uses a LoadTestShape, and a worker whose master
was killed waits 60 s before it gives up. A game day must never leave load running against a
cluster after the harness is gone, so every Locust process of a run SIGTERMs itself (Locust's
graceful stop: final stats are still written) at the wall-clock deadline LoadRun passes in
$GAMEDAY_LOAD_DEADLINE.
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
    deadline = os.environ.get(DEADLINE_ENV)
    if deadline:
        delay = max(0.0, float(deadline) - time.time())
        gevent.spawn_later(delay, os.kill, os.getpid(), signal.SIGTERM)
