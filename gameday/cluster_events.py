"""Kubernetes Events observed during a game day, for its timeline (never for a verdict).

Events are lossy by design (rate-limited, deduplicated, expired after an hour), so they only
illustrate the report: "node NotReady", "Killing", "FailedScheduling" next to the fault steps.
Polled, not watched: a bounded list every `interval` cannot hang, and nothing is lost that
the apiserver still holds.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from gameday.adapters.kube import KubeAdapter, KubeApiError
from gameday.adapters.kube_types import ClusterEvent

Sink = Callable[[ClusterEvent, dt.datetime], None]
Warn = Callable[[str], None]


def _parse(ts: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None


class EventRecorder:
    """Feeds every Event newer than `since` (new ones and repeats) to `sink`, until stopped.

    A failed list is told to `warn` once per distinct error (a missing `list events` right
    would otherwise leave the report without events and without a word on why)."""

    def __init__(self, kube: KubeAdapter, sink: Sink, since: dt.datetime,
                 interval: float = 1.0, warn: Warn | None = None) -> None:
        self.kube = kube
        self.sink = sink
        self.warn = warn
        self.since = since.replace(microsecond=0)  # Event times have second precision
        self.interval = interval
        self.errors: list[str] = []
        self._seen: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gameday-events", daemon=True)

    def start(self) -> EventRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after one last poll, so events of the final second are kept."""
        self._stop.set()
        self._thread.join(timeout=self.interval + 35)
        self.poll()

    def poll(self) -> None:
        try:
            events = self.kube.list_events()
        except KubeApiError as exc:
            if str(exc) not in self.errors and self.warn is not None:
                self.warn(unavailable(exc))
            self.errors.append(str(exc))
            return
        for event in sorted(events, key=lambda e: e.last_seen):
            when = _parse(event.last_seen)
            if when is None or when < self.since or self._seen.get(event.uid) == event.count:
                continue
            self._seen[event.uid] = event.count
            self.sink(event, when)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()


def unavailable(exc: KubeApiError) -> str:
    """Why the timeline has no Kubernetes events, and what to do about it."""
    if exc.status in (401, 403):
        return (f"Kubernetes events unavailable, the timeline shows none: {exc}; grant the "
                "harness `list` on `events` cluster-wide (deploy/rbac.yaml has the rule)")
    return f"Kubernetes events unavailable, the timeline may miss some: {exc}"
