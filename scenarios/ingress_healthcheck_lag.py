"""Ingress health-check lag: how long the load balancer keeps routing to backends that died.

Hypothesis: when backends are SIGKILLed (no drain, no chance to fail readiness first), the load
balancer answers 502 only until it stops routing to them, which its health check bounds at
unhealthyThreshold x checkIntervalSec + timeoutSec: the measured 502 window stays within that
bound (plus one scrape interval of resolution) and availability stays above 90 %. Runs once per
health-check setting: the Service's BackendConfig is patched for the run (restored after), so
the report shows the window next to each setting's bound.
"""

from __future__ import annotations

import pytest

from gameday.error_window import health_check_bound
from gameday.faults.healthcheck_lag import HealthcheckLag
from gameday.slo import Availability

HEALTH_CHECKS = {  # BackendConfig spec.healthCheck fields set for each run
    "tight": {"checkIntervalSec": 1, "timeoutSec": 1, "unhealthyThreshold": 2},
    "loose": {"checkIntervalSec": 3, "timeoutSec": 2, "unhealthyThreshold": 3},
}
LB_REQUESTS, FAILED = "gameday_lb_requests_total", 'code="502"'  # client side on GKE:
# --gameday-set window_total='gameday_load_requests_total{gameday_run!=""}'
DURING = [Availability.from_load(0.90, name="availability")]
STEADY = [Availability.from_load(0.99, name="steady_availability")]
BASELINE_S, SETTLE_S, FAULT_S, KILL, USERS = 6.0, 4.0, 15.0, 1, 10


@pytest.mark.parametrize("setting", list(HEALTH_CHECKS))
def test_ingress_healthcheck_lag(gameday, app, setting):
    check = HEALTH_CHECKS[setting]
    during, steady = gameday.slos(DURING), gameday.slos(STEADY)
    with gameday.load(users=gameday.param("users", USERS)):
        gameday.steady_state(steady, gameday.window("baseline_s", BASELINE_S))
        with gameday.inject(HealthcheckLag, phase="health_check", namespace=app.namespace,
                            service=app.service, health_check=check):
            gameday.hold(gameday.param("settle_s", SETTLE_S))  # the LB picks the setting up
            with gameday.inject(HealthcheckLag, namespace=app.namespace, selector=app.selector,
                                kill_count=gameday.param("kill", KILL)) as killed:
                gameday.hold_phase(gameday.window("fault_s", FAULT_S))
    bound = health_check_bound(check)
    window = gameday.error_window("lb_502", killed, gameday.param("window_total", LB_REQUESTS),
                                  FAILED, bound_s=bound)
    gameday.evaluate(during, "fault")
    gameday.assert_slos()
    slack = gameday.profile.scrape_interval
    assert window <= bound + slack, (f"502s lasted {window:.1f}s after the kill, beyond the "
                                     f"health check's bound {bound:g}s + {slack:g}s scrape")
