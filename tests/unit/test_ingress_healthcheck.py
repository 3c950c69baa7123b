"""The LB health-check state machine: thresholds, timeouts, live settings changes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gameday.errors import UsageError
from gameday.lab.ingress.healthcheck import (
    CheckResult,
    EndpointHealth,
    HealthCheckSettings,
    HealthState,
)
from gameday.lab.profiles import get_profile

OK, FAIL, TIMEOUT = CheckResult.SUCCESS, CheckResult.FAILURE, CheckResult.TIMEOUT


def settings(healthy: int = 1, unhealthy: int = 2) -> HealthCheckSettings:
    return HealthCheckSettings(interval_s=1, timeout_s=1, healthy_threshold=healthy,
                               unhealthy_threshold=unhealthy)


def run(health: EndpointHealth, s: HealthCheckSettings, results: list[CheckResult]) -> list[str]:
    out = []
    for i, r in enumerate(results):
        health.record(r, s, at=float(i))
        out.append(str(health.state))
    return out


def test_gke_profile_defaults_are_ingress_gce_neg_defaults() -> None:
    s = HealthCheckSettings.from_profile(get_profile("gke"))
    assert (s.interval_s, s.timeout_s, s.healthy_threshold, s.unhealthy_threshold) == (15, 15, 1, 2)
    assert s.request_path == "/" and s.port is None


def test_new_endpoint_serves_only_after_healthy_threshold() -> None:
    h = EndpointHealth()
    assert not h.serving and h.state is HealthState.UNKNOWN
    assert run(h, settings(healthy=3), [OK, OK, OK]) == ["UNKNOWN", "UNKNOWN", "HEALTHY"]
    assert h.serving


def test_unhealthy_after_consecutive_failures_and_timeouts_count_as_failures() -> None:
    h = EndpointHealth(state=HealthState.HEALTHY)
    states = run(h, settings(unhealthy=3), [FAIL, OK, FAIL, TIMEOUT, FAIL])
    # the success resets the count; then failure, timeout, failure = 3 in a row
    assert states == ["HEALTHY"] * 4 + ["UNHEALTHY"]
    assert h.consecutive_failures == 3 and h.last_result is FAIL and h.last_check == 4.0


def test_record_reports_state_changes_only() -> None:
    h = EndpointHealth()
    s = settings()
    assert h.record(OK, s, 0) is True
    assert h.record(OK, s, 1) is False
    assert h.record(FAIL, s, 2) is False
    assert h.record(FAIL, s, 3) is True


def test_threshold_change_applies_to_the_next_check_with_counts_kept() -> None:
    h = EndpointHealth(state=HealthState.HEALTHY)
    s = settings(unhealthy=5)
    run(h, s, [FAIL, FAIL])
    assert h.serving
    h.record(FAIL, replace(s, unhealthy_threshold=3), 2)
    assert h.state is HealthState.UNHEALTHY


@pytest.mark.parametrize("changes", [
    {"interval_s": 0}, {"timeout_s": -1}, {"healthy_threshold": 0},
    {"type": "TCP"}, {"request_path": "healthz"},
])
def test_invalid_settings_are_usage_errors(changes: dict) -> None:
    with pytest.raises(UsageError):
        replace(settings(), **changes)


def test_timeout_is_clamped_to_interval() -> None:
    s = HealthCheckSettings(interval_s=2, timeout_s=5, healthy_threshold=1, unhealthy_threshold=2)
    assert s.effective_timeout_s == 2
    assert s.as_dict()["effective_timeout_s"] == 2
