"""Inside Locust (cluster placement's master): the run's final figures over its web API.

On the runner, Locust writes its final stats to files the harness reads (`--json-file`,
failures.py). A master in a pod writes into a filesystem nobody reads, so it serves the same
documents instead, and the harness fetches them through the apiserver's pod proxy before it
deletes the pod: `GET /gameday/result` answers `{"entries": [...], "errors": [...]}`, the
entries exactly as Locust's JSON file has them, so one reader (stats.read_result) serves both
placements.
"""

from __future__ import annotations

from locust import events


@events.init.add_listener
def _route(environment, web_ui=None, **_kwargs) -> None:
    if web_ui is None:  # workers, headless runs: nothing to serve
        return

    @web_ui.app.route("/gameday/result")
    def _result() -> dict:
        runner = environment.runner
        return {"entries": runner.stats.serialize_stats(),
                "errors": [e.serialize() for e in runner.stats.errors.values()]}
