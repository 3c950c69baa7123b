"""Inside Locust: write the final failures by error, which Locust itself does not do at exit.

`_failures.csv` is rewritten once a second while the run goes on and not at exit, so it misses
the last second's failures (often the interesting ones: load stopped mid-outage). At `quit`
the process that owns the run's stats (single process or master) writes every error with its
count to `<json-file>_failures.json`, next to Locust's final JSON.
"""

from __future__ import annotations

import json

from locust import events
from locust.runners import WorkerRunner

_environment = None


@events.init.add_listener
def _remember(environment, **_kwargs) -> None:
    global _environment
    _environment = environment


@events.quit.add_listener
def _write(**_kwargs) -> None:
    env = _environment
    json_file = getattr(env.parsed_options, "json_file", None) if env else None
    if not json_file or env.runner is None or isinstance(env.runner, WorkerRunner):
        return
    errors = [e.serialize() for e in env.runner.stats.errors.values()]
    with open(f"{json_file}_failures.json", "w") as f:
        json.dump(errors, f)
