"""Scenario values: `param` and `window` defaults, overrides, and what the report records."""

from __future__ import annotations

import pytest

from gameday.errors import UsageError
from gameday.scenario_values import parse

SCENARIO = """
def test_values(gameday):
    # a real cluster is judged with the gke profile: Prometheus scrapes every 15 s
    assert gameday.profile.name == "gke" and gameday.profile.scrape_interval == 15
    assert gameday.window("baseline_s", 8.0) == 61.0   # stretched over four scrapes
    assert gameday.window("recovery_s", 90.0) == 90.0  # long enough already
    assert gameday.window("fault_s", 20.0) == 5.0      # --gameday-set is taken as given
    assert gameday.param("users", 10) == 10
    assert gameday.evidence.parameters == {"baseline_s": 61.0, "recovery_s": 90.0,
                                           "fault_s": 5.0, "users": 10}
"""


def test_windows_span_two_scrapes_unless_overridden(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_values=SCENARIO)
    result = pytester.runpytest("-p", "no:locust", "--lab=off", "--gameday-set", "fault_s=5",
                                "--report-dir", str(pytester.path / "reports"))
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("raw,value", [
    *[(word, True) for word in ("true", "True", "yes", "on", "1")],
    *[(word, False) for word in ("false", "FALSE", "no", "off", "0")],
])
def test_booleans_are_parsed_not_truth_tested(raw: str, value: bool) -> None:
    assert parse("x", raw, False) is value and parse("x", raw, True) is value


@pytest.mark.parametrize("raw,default,value", [
    ("3", 10, 3), (" 2.5", 1.0, 2.5), ("a=b", "", "a=b"),
    ("b, c", ("a",), ("b", "c")), ("1,2", [0], [1, 2]), ("x", (), ("x",)),
])
def test_values_take_the_defaults_type(raw: str, default: object, value: object) -> None:
    assert parse("k", raw, default) == value


@pytest.mark.parametrize("raw,default,message", [
    ("maybe", False, "--gameday-set dry='maybe': expected a bool (true/yes/on/1 or "
                     "false/no/off/0)"),
    ("2.5", 3, "--gameday-set dry='2.5': expected a int like 3"),
    ("1,x", (1,), "--gameday-set dry='x': expected a int like 1"),
])
def test_bad_values_name_the_key_and_value(raw: str, default: object, message: str) -> None:
    with pytest.raises(UsageError) as exc:
        parse("dry", raw, default)
    assert str(exc.value) == message


KEYS = """
from gameday.slo import Availability


def test_keys(gameday):
    assert gameday.param("cordon", True) is False
    assert gameday.slos([Availability.from_load(0.9)])[0].target == 0.5
    with gameday.phase("fault"):  # read inside a fault block: still known
        assert gameday.param("fault_s", 20.0) == 1.0
"""


def run_keys(pytester: pytest.Pytester, *sets: str) -> pytest.RunResult:
    pytester.makepyfile(test_keys=KEYS)
    args = [arg for key in sets for arg in ("--gameday-set", key)]
    return pytester.runpytest("-p", "no:locust", "--lab=off", "--report-dir",
                              str(pytester.path / "reports"), *args)


def test_every_key_read_is_a_clean_run(pytester: pytest.Pytester) -> None:
    result = run_keys(pytester, "cordon=false", "availability.target=0.5", "fault_s=1")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK


def test_a_key_no_scenario_reads_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = run_keys(pytester, "cordon=false", "availability.target=0.5", "fault_s=1",
                      "faul_s=30")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines([
        "UsageError: --gameday-set faul_s: no scenario of this run reads it, so the run used "
        "the defaults (a typo?); known keys: availability.<field>, availability.target, "
        "cordon, fault_s"])
