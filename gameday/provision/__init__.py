"""Provisioning: the cluster state a scenario tests, set up by the scenario and put back after.

    from gameday.provision import State, pdb, replicas, spread

    BASE = State("spread", "k8s/web.yaml", knobs=(replicas("web", 6),))
    STATES = [BASE, BASE.but("strict-spread", spread("web", "DoNotSchedule"), pdb("web",
                                                                           min_available=5))]

    @pytest.mark.parametrize("state", STATES, ids=str)
    def test_zone_outage(gameday, state, zone):
        gameday.provision(state)          # applied, Ready, undone when the test ends
        ...

`state_fixture(state, scope="module")` is the fixture form. Light to import: the cluster side
(gameday/provision/provisioned.py) loads only when a state is provisioned.
"""

from gameday.provision.fixture import state_fixture
from gameday.provision.knobs import grace_period, image, pdb, readiness_probe, replicas, spread
from gameday.provision.state import Knob, Source, State

__all__ = ["Knob", "Source", "State", "grace_period", "image", "pdb", "readiness_probe",
           "replicas", "spread", "state_fixture"]
