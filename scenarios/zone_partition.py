"""Zone partition: a zone loses its network but not its VMs; the app rides out the split brain.

Hypothesis: with replicas spread over three zones and load running through the Ingress, cutting
one zone's nodes off from the control plane and from the other zones (VPC firewall rules on a
network tag of the fault's own; Google's load-balancer ranges still reach them, so their pods
keep serving) keeps at least 95 % of requests succeeding during the partition with p95 latency
under 500 ms; the control plane gives up on the zone (NotReady, eviction) and all replicas run
Ready outside it; meanwhile the old pods still run, so for part of the partition the app has
duplicates (old still running + new), at most the zone's share of its replicas, shown on the
report's timeline; after the zone heals its stale pods are stopped (no duplicates left) and
availability is back above 99 % within 30 s. Runs once per zone of the target.
"""

from __future__ import annotations

from gameday.faults.zone_partition import ZonePartition
from gameday.slo import Availability, Latency, RecoveryTime
from gameday.split_brain import SplitBrainWatch

DURING = [Availability.from_load(0.95, name="availability"),
          Latency.from_load(0.95, 0.5, name="latency")]
STEADY = [Availability.from_load(0.99, name="steady_availability")]
RECOVERY = RecoveryTime(sli=STEADY[0], bound_s=30, hold_s=5, name="recovery")
BASELINE_S, FAULT_S, RECOVERY_S, USERS = 8.0, 10.0, 15.0, 10


def test_zone_partition(gameday, app, zone):
    during, steady = gameday.slos(DURING), gameday.slos(STEADY)
    watch = SplitBrainWatch(gameday.kube, app.namespace, app.selector, zone, app.replicas,
                            gameday.evidence)
    # in-cluster load (--load-placement cluster) stays out of the zone about to be cut off
    with gameday.load(users=gameday.param("users", USERS), avoid_zones=[zone]):
        gameday.steady_state(steady, gameday.window("baseline_s", BASELINE_S))
        with watch as brain:
            with gameday.inject(ZonePartition, zone=zone, keep_load_balancer=gameday.param(
                    "keep_load_balancer", True)):
                gameday.expect_replicas_outside(app, zone, timeout_s=gameday.param(
                    "reschedule_timeout_s", gameday.profile.reschedule_timeout_s()))
                gameday.hold_phase(gameday.window("fault_s", FAULT_S))
            gameday.observe("recovery", gameday.window("recovery_s", RECOVERY_S))
    gameday.evaluate(during, "fault")
    gameday.evaluate(steady, "recovery")
    gameday.recovery(gameday.slos([RECOVERY])[0], since="revert")
    gameday.assert_slos()
    if not gameday.dry_run and brain.samples:
        stale_at_start = brain.samples[0][1]
        assert 0 < brain.peak <= stale_at_start, (
            f"split brain: peak {brain.peak} duplicates, {stale_at_start} replicas in {zone}")
        assert brain.samples[-1][3] == 0, "duplicates left after the zone healed"
