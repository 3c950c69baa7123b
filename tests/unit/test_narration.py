"""Live narration: which steps are printed, how, and that other threads never write directly."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from gameday.evidence import Evidence
from gameday.narration import Narrator
from gameday.slo.base import Status, Verdict, Window

T0 = dt.datetime(2026, 11, 27, 4, 0, tzinfo=dt.UTC)


def narrated() -> tuple[Narrator, list[str]]:
    lines: list[str] = []
    return Narrator(lines.append), lines


def test_phases_faults_and_verdicts_are_told_cluster_events_are_not() -> None:
    narrator, lines = narrated()
    evidence = Evidence("s.py::t", observer=narrator.for_test("s.py::t"))
    evidence.event("phase.start", "fault", source="gameday")
    evidence.event("k8s.NodeNotReady", "node/n1: not ready", source="k8s")
    evidence.event("zone_outage.down", "zone b: every instance stopped", source="fault")
    evidence.event("phase.end", "fault", source="gameday")
    window = Window("fault", T0, T0 + dt.timedelta(seconds=30))
    evidence.add_verdict(Verdict("availability", "availability", "fault", ">= 99.000%", 0.99871,
                                 Status.PASS, "q", window, "m"))
    assert lines[0] == "gameday: s.py::t"
    body = [line.split("s  ", 1)[1] for line in lines[1:]]
    assert body == ["── fault ──", "zone_outage.down: zone b: every instance stopped",
                    "SLO availability [fault]: PASS (measured 99.871%, target >= 99.000%)"]
    assert len(evidence.timeline) == 4  # narration filters what it prints, not what is kept


def test_a_multi_line_plan_is_indented_under_its_first_line() -> None:
    narrator, lines = narrated()
    narrator.say("[zone_outage] take zone b down\n  target: n1\n  call:   POST .../stop")
    assert lines == ["gameday: [zone_outage] take zone b down", "gameday:       target: n1",
                     "gameday:       call:   POST .../stop"]


def test_other_threads_wait_for_the_main_thread() -> None:
    narrator, lines = narrated()
    worker = threading.Thread(target=narrator.say, args=("from a watcher",))
    worker.start()
    worker.join()
    assert lines == []
    narrator.flush()
    assert lines == ["gameday: from a watcher"]


def test_quiet_prints_nothing_and_live_blocks_still_run() -> None:
    lines: list[str] = []
    entered: list[str] = []

    class Live:
        def __enter__(self) -> None:
            entered.append("live")

        def __exit__(self, *exc: object) -> None:
            return None

    quiet = Narrator(lines.append, Live, quiet=True)
    quiet.say("x")
    with quiet.live():
        pass
    loud = Narrator(lines.append, Live)
    with loud.live():
        pass
    assert lines == [] and entered == ["live"]


def test_lines_sit_between_pytest_own_output_without_gaps(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_two="""
        def test_a(gameday):
            gameday.evidence.event("x.step", "one", source="t")

        def test_b(gameday):
            gameday.evidence.event("x.step", "two", source="t")
    """)
    result = pytester.runpytest("-p", "no:locust", "--lab=off", "--report-dir",
                                str(pytester.path / "reports"))
    result.assert_outcomes(passed=2)
    lines = result.stdout.lines
    first = next(i for i, line in enumerate(lines) if line.startswith("gameday: test_two.py"))
    body = lines[first - 1:first + 7]
    assert body == ["test_two.py ", "gameday: test_two.py::test_a",
                    body[2], ".", "test_two.py ", "gameday: test_two.py::test_b", body[6],
                    body[7]], "\n".join(body)
    assert body[2].endswith("x.step: one") and body[6].endswith("x.step: two")
    assert body[7].startswith(".")
