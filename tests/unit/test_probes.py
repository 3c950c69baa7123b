"""The kubelet probe state machine: delays, periods and thresholds."""

from __future__ import annotations

from gameday.lab.hollow.probes import ProbeSpec, ProbeState


def test_spec_from_api_resolves_named_ports_and_defaults() -> None:
    spec = ProbeSpec.from_api({"httpGet": {"path": "/readyz", "port": "http"}}, {"http": 8080})
    assert (spec.kind, spec.port, spec.path) == ("http", 8080, "/readyz")
    assert (spec.period_s, spec.timeout_s, spec.failure_threshold) == (10, 1, 3)
    assert ProbeSpec.from_api({"tcpSocket": {"port": 9000}}, {}).kind == "tcp"
    assert ProbeSpec.from_api({"exec": {"command": ["true"]}}, {}).kind == "exec"


def test_readiness_waits_for_initial_delay_and_success_threshold() -> None:
    spec = ProbeSpec("http", 80, initial_delay_s=5, period_s=2, success_threshold=2)
    state = ProbeState(spec, started_at=100.0, initially=False)
    assert not state.due(104.9) and state.due(105.0)
    assert state.record(True, 105.0) is False and not state.ok
    assert not state.due(106.0) and state.due(107.0)
    assert state.record(True, 107.0) is True and state.ok


def test_liveness_flips_only_after_failure_threshold_consecutive_failures() -> None:
    state = ProbeState(ProbeSpec("http", 80, failure_threshold=3), 0.0, initially=True)
    state.record(False, 1)
    state.record(False, 2)
    state.record(True, 3)  # a success resets the count
    state.record(False, 4)
    state.record(False, 5)
    assert state.ok
    assert state.record(False, 6) is True and not state.ok
