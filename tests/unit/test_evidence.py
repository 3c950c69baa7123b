"""Evidence: thread-safe timeline, phases, verdicts, figures, attachments, JSON-safe export."""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from gameday.errors import UsageError
from gameday.evidence import Event, Evidence
from gameday.slo import Status, Verdict, Window

T0 = dt.datetime(2025, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


def test_timeline_keeps_every_event_from_many_threads() -> None:
    evidence = Evidence("t::a")

    def writer(n: int) -> None:
        for i in range(200):
            evidence.event("k8s", f"{n}-{i}", source=f"w{n}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(evidence.timeline) == 800
    assert len({e.message for e in evidence.timeline}) == 800
    for n in range(4):  # each writer's events stay in its order
        mine = [e.message for e in evidence.timeline if e.source == f"w{n}"]
        assert mine == [f"{n}-{i}" for i in range(200)]


def test_events_filter_by_kind_prefix_and_need_utc() -> None:
    evidence = Evidence("t::b")
    evidence.event("fault.inject", "zone down", data={"zone": "europe-west1-b"})
    evidence.event("fault.revert", "zone up")
    evidence.event("load", "20 users")
    assert [e.message for e in evidence.timeline.events("fault.")] == ["zone down", "zone up"]
    with pytest.raises(UsageError, match="naive"):
        evidence.timeline.add(Event(dt.datetime(2025, 1, 1), "k8s", "x"))


@dataclass(frozen=True)
class _Load:
    requests: int
    p99_ms: float | None


def test_to_dict_is_json_safe(tmp_path: Path) -> None:
    evidence = Evidence("t::c")
    evidence.add_phase("fault", T0, T0 + dt.timedelta(seconds=30))
    window = Window("fault", T0, T0 + dt.timedelta(seconds=30))
    evidence.add_verdict(Verdict("availability", "availability", "fault", ">= 99.0%", 0.97,
                                 Status.FAIL, "q", window, "msg"))
    evidence.figures["recovery_time_s"] = 12.5
    evidence.figures["nan_figure"] = math.nan
    evidence.parameters["zone"] = "europe-west1-b"
    evidence.load = _Load(1000, None)
    evidence.attach("stats", tmp_path / "stats.csv", "text/csv")
    evidence.attach("note", b"\x00\x01", "application/octet-stream")
    evidence.event("phase.start", "fault", data={"at": T0, "path": tmp_path, "set": {1}})
    data = json.loads(json.dumps(evidence.to_dict(), allow_nan=False))
    assert data["phases"] == [{"name": "fault", "start": T0.isoformat(),
                               "end": (T0 + dt.timedelta(seconds=30)).isoformat()}]
    assert data["verdicts"][0]["status"] == "fail"
    assert data["verdicts"][0]["window"]["phase"] == "fault"
    assert data["figures"] == {"recovery_time_s": 12.5, "nan_figure": None}
    assert data["load"] == {"requests": 1000, "p99_ms": None}
    assert data["attachments"][0]["path"].endswith("stats.csv")
    assert data["attachments"][1]["base64"] == "AAE="
    assert data["events"][0]["data"] == {"at": T0.isoformat(), "path": str(tmp_path),
                                         "set": [1]}


def test_a_phase_cannot_end_before_it_starts() -> None:
    with pytest.raises(UsageError, match="ends before it starts"):
        Evidence("t::d").add_phase("fault", T0, T0 - dt.timedelta(seconds=1))
