"""Zone outage: a regional app survives losing one whole zone.

Hypothesis: with replicas spread over three zones and load running, taking every node of one
zone down (its VMs stopped, the MIG told not to repair them) keeps at least 95 % of requests
succeeding during the outage with p95 latency under 500 ms; the lost replicas come back in the
healthy zones; and after the zone returns, availability is back above 99 % within 30 s.
Runs once per zone of the target.
"""

from __future__ import annotations

from gameday.faults.zone_outage import ZoneOutage
from gameday.slo import Availability, Latency, RecoveryTime

DURING = [Availability.from_load(0.95, name="availability"),
          Latency.from_load(0.95, 0.5, name="latency")]
STEADY = [Availability.from_load(0.99, name="steady_availability")]
RECOVERY = RecoveryTime(sli=STEADY[0], bound_s=30, hold_s=5, name="recovery")
BASELINE_S, FAULT_S, RECOVERY_S, USERS = 8.0, 20.0, 15.0, 10


def test_zone_outage(gameday, app, zone):
    during, steady = gameday.slos(DURING), gameday.slos(STEADY)
    # in-cluster load (--load-placement cluster) stays out of the zone it is about to lose
    with gameday.load(users=gameday.param("users", USERS), avoid_zones=[zone]):
        gameday.steady_state(steady, gameday.window("baseline_s", BASELINE_S))
        with gameday.inject(ZoneOutage, zone=zone):
            gameday.expect_replicas_outside(app, zone, timeout_s=gameday.param(
                "reschedule_timeout_s", gameday.profile.reschedule_timeout_s()))
            gameday.hold_phase(gameday.window("fault_s", FAULT_S))
        gameday.observe("recovery", gameday.window("recovery_s", RECOVERY_S))
    gameday.evaluate(during, "fault")
    gameday.evaluate(steady, "recovery")
    gameday.recovery(gameday.slos([RECOVERY])[0], since="revert")
    gameday.assert_slos()
