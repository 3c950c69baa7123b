"""Scenario values: `param` and `window` defaults, overrides, and what the report records."""

from __future__ import annotations

import pytest

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
