"""Per-test evidence: what happened, when, and what was judged — the one source every report reads.

Faults, load, SLO evaluation and the GameDay API write here, possibly from several threads (a
fault's watcher, the load's monitor); the report sinks (HTML, Allure, JUnit, summary.json) read
`to_dict()` at the end. Nothing here knows pytest or Allure: reports are adapters on top.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import math
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gameday.errors import UsageError

if TYPE_CHECKING:
    from gameday.slo import Verdict


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Event:
    """One thing that happened: `kind` like "phase.start", "fault.inject", "k8s", "load"."""

    ts: dt.datetime
    kind: str
    message: str
    source: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"ts": self.ts.isoformat(), "kind": self.kind, "source": self.source,
                "message": self.message, "data": json_safe(self.data)}


class Timeline:
    """Events in the order they were recorded; safe to append to from any thread."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._lock = threading.Lock()

    def add(self, event: Event) -> Event:
        if event.ts.utcoffset() is None:
            raise UsageError(f"event {event.kind!r} has a naive timestamp: use UTC-aware "
                             "datetimes (datetime.now(datetime.UTC))")
        with self._lock:
            self._events.append(event)
        return event

    def events(self, kind_prefix: str = "") -> list[Event]:
        """A snapshot, oldest first, optionally only kinds starting with `kind_prefix`."""
        with self._lock:
            return [e for e in self._events if e.kind.startswith(kind_prefix)]

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events())

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)


@dataclass(frozen=True)
class PhaseSpan:
    """A phase that ran: its window is what the SLOs are judged over."""

    name: str
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class Attachment:
    """A file or bytes kept for the reports (a CSV, a figure, a log excerpt)."""

    name: str
    mime: str
    path: Path | None = None
    body: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.path is not None:
            return {"name": self.name, "mime": self.mime, "path": str(self.path)}
        assert self.body is not None
        return {"name": self.name, "mime": self.mime,
                "base64": base64.b64encode(self.body).decode("ascii")}


class Observer(Protocol):
    """Told of each event and verdict as it is recorded (the live narration on the terminal)."""

    def event(self, event: Event) -> None: ...

    def verdict(self, verdict: Verdict) -> None: ...


class Evidence:
    """Everything one test leaves for its reports.

    `figures` (named numbers such as recovery_time_s) and `parameters` (scenario values) are
    plain dicts; `series` holds named time series of (unix s, value) a scenario sampled (the
    split brain's pod counts), drawn on the report's timeline; `load` holds the load result
    and `outcome` the test's outcome when known.
    """

    def __init__(self, test_id: str, observer: Observer | None = None) -> None:
        self.test_id = test_id
        self._observer = observer
        self.timeline = Timeline()
        self.figures: dict[str, float] = {}
        self.series: dict[str, list[tuple[float, float]]] = {}
        self.parameters: dict[str, Any] = {}
        self.load: Any = None
        self.outcome: dict[str, Any] = {}
        self._phases: list[PhaseSpan] = []
        self._verdicts: list[Verdict] = []
        self._attachments: list[Attachment] = []
        self._lock = threading.Lock()

    def event(self, kind: str, message: str, *, source: str = "",
              data: Mapping[str, Any] | None = None, ts: dt.datetime | None = None) -> Event:
        """Record an event now (or at `ts`)."""
        event = self.timeline.add(Event(ts or utcnow(), kind, message, source, dict(data or {})))
        if self._observer is not None:
            self._observer.event(event)
        return event

    def add_phase(self, name: str, start: dt.datetime, end: dt.datetime) -> PhaseSpan:
        if end < start:
            raise UsageError(f"phase {name!r} ends before it starts ({end} < {start})")
        span = PhaseSpan(name, start, end)
        with self._lock:
            self._phases.append(span)
        return span

    def add_verdict(self, verdict: Verdict) -> None:
        with self._lock:
            self._verdicts.append(verdict)
        if self._observer is not None:
            self._observer.verdict(verdict)

    def attach(self, name: str, content: Path | str | bytes, mime: str) -> Attachment:
        """Keep a file (by path; it is read by the report) or bytes under a name."""
        if isinstance(content, bytes):
            attachment = Attachment(name, mime, body=content)
        else:
            attachment = Attachment(name, mime, path=Path(content))
        with self._lock:
            self._attachments.append(attachment)
        return attachment

    @property
    def phases(self) -> list[PhaseSpan]:
        with self._lock:
            return list(self._phases)

    @property
    def verdicts(self) -> list[Verdict]:
        with self._lock:
            return list(self._verdicts)

    @property
    def attachments(self) -> list[Attachment]:
        with self._lock:
            return list(self._attachments)

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-safe data (ISO timestamps, NaN as None) for summary.json."""
        return {
            "test_id": self.test_id,
            "outcome": json_safe(self.outcome),
            "parameters": json_safe(self.parameters),
            "phases": [{"name": p.name, "start": p.start.isoformat(), "end": p.end.isoformat()}
                       for p in self.phases],
            "events": [e.to_dict() for e in self.timeline],
            "verdicts": [v.to_dict() for v in self.verdicts],
            "figures": json_safe(self.figures),
            "series": json_safe(self.series),
            "attachments": [a.to_dict() for a in self.attachments],
            "load": json_safe(self.load),
        }


def json_safe(value: Any) -> Any:
    """Plain JSON types from dataclasses, enums, datetimes, paths and non-finite floats."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    return repr(value)
