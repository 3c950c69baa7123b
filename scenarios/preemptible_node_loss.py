"""Preemptible node loss: Spot nodes are taken back, users barely notice, the MIG recreates them.

Hypothesis: with replicas on every node and load running, preempting Spot nodes the way Compute
Engine does (simulateMaintenanceEvent: a short notice, the pods get GKE's shutdown grace, then
the VM is gone) keeps at least 95 % of requests succeeding with p95 latency under 500 ms; the
lost pods are replaced elsewhere; the MIG recreates every VM (a new instance id, the node Ready
again with a new boot id); and availability is back above 99 % within 30 s of the preemption.
Runs for one node and for two (in different zones, inside the default blast radius).
"""

from __future__ import annotations

import pytest

from gameday.faults.node_preemption import NodePreemption
from gameday.slo import Availability, Latency, RecoveryTime

DURING = [Availability.from_load(0.95, name="availability"),
          Latency.from_load(0.95, 0.5, name="latency")]
STEADY = [Availability.from_load(0.99, name="steady_availability")]
RECOVERY = RecoveryTime(sli=STEADY[0], bound_s=30, hold_s=5, name="recovery")
BASELINE_S, FAULT_S, RECOVERY_S, USERS = 8.0, 15.0, 8.0, 10


@pytest.mark.parametrize("nodes", [1, 2])
def test_preemptible_node_loss(gameday, app, nodes):
    during, steady = gameday.slos(DURING), gameday.slos(STEADY)
    with gameday.load(users=gameday.param("users", USERS)):
        gameday.steady_state(steady, gameday.window("baseline_s", BASELINE_S))
        with gameday.inject(NodePreemption, selector=gameday.spot_nodes(nodes, app)):
            gameday.expect_nodes_replaced(timeout_s=gameday.param(
                "node_back_timeout_s", gameday.profile.node_replacement_timeout_s()))
            gameday.hold_phase(gameday.window("fault_s", FAULT_S))
        gameday.observe("recovery", gameday.window("recovery_s", RECOVERY_S))
    gameday.evaluate(during, "fault")
    gameday.evaluate(steady, "recovery")
    gameday.recovery(gameday.slos([RECOVERY])[0], since="inject")
    gameday.assert_slos()
