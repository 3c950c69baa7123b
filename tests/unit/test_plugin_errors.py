"""gameday's own errors reach the user as their message and the scenario line that led there,
not a traceback through the harness; other exceptions keep pytest's usual report."""

from __future__ import annotations

import pytest

SCENARIO = """
from gameday.faults.selection import NodeSelector


def test_bad_selector():
    NodeSelector(count=0).select([])


def test_plain_bug():
    {}["missing"]


def test_error_raised_from_exec_d_code():
    exec("from gameday.errors import UsageError\\nraise UsageError('from a string')")
"""


def test_our_errors_are_one_message_with_the_scenario_line(pytester: pytest.Pytester) -> None:
    source = pytester.makepyfile(test_day=SCENARIO)
    line = source.read_text().splitlines().index("    NodeSelector(count=0).select([])") + 1
    result = pytester.runpytest("-p", "no:locust", "--lab=off")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["UsageError: *", f"  at test_day.py:{line}",
                                 "  (--tb=long shows the traceback)"])
    out = result.stdout.str()
    assert "gameday/faults/selection.py" not in out  # no frames from the harness
    assert "KeyError" in out and "def test_plain_bug" in out  # a real bug keeps its traceback
    assert "UsageError: from a string" in out  # frames without a file (exec) are skipped


def test_tb_long_brings_the_traceback_back(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_day=SCENARIO)
    result = pytester.runpytest("-p", "no:locust", "--lab=off", "--tb=long", "-k", "selector")
    result.assert_outcomes(failed=1, deselected=2)
    assert "selection.py" in result.stdout.str()
    assert "(--tb=long shows the traceback)" not in result.stdout.str()


NEEDS_A_CLUSTER = """
def test_outage(gameday, zone):
    pass


def test_reads_nodes(gameday):
    gameday.kube.list_nodes()
"""


def test_no_kubeconfig_is_one_line_at_collection_and_at_test_time(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(pytester.path))  # no ~/.kube/config
    monkeypatch.delenv("KUBECONFIG", raising=False)
    message = ("UsageError: no cluster to run against: --lab off, no --kubeconfig, and "
               "~/.kube/config does not exist; pass --kubeconfig PATH *")
    pytester.makepyfile(test_zones=NEEDS_A_CLUSTER)
    result = pytester.runpytest("-p", "no:locust", "--lab=off")  # `zone`: listed at collection
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting test_zones.py*", message,
                                 "  (while listing the target's zones to run test_outage in *",
                                 "  (--tb=long shows the traceback)"])
    out = result.stdout.str()
    assert "direct cause" not in out and "gameday/run.py" not in out and "None" not in out

    result = pytester.runpytest("-p", "no:locust", "--lab=off", "-k", "reads_nodes",
                                "--gameday-set", "zones=z1")  # zones named: collected fine
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines([message])
    assert "direct cause" not in result.stdout.str()
