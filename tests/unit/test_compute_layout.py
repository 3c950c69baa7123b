"""GKE naming and loopback addressing of the lab's VMs, and layouts GKE could not have."""

from __future__ import annotations

import ipaddress
import re

import pytest

from gameday.errors import UsageError
from gameday.lab.compute.layout import ClusterLayout, NodePool, plan, pool_zone_hash

ZONES = ("europe-west1-b", "europe-west1-c")


def layout(**overrides: object) -> ClusterLayout:
    base: dict[str, object] = {
        "project": "proj", "region": "europe-west1", "cluster": "lab",
        "pools": (NodePool("spot", ZONES, 3, "SPOT"), NodePool("std", ZONES[:1], 2))}
    return ClusterLayout(**{**base, **overrides})  # type: ignore[arg-type]


def test_names_follow_gke_and_hash_is_fixed_per_pool_and_zone() -> None:
    migs, instances = plan(layout())
    assert [m.name for m in migs] == [
        f"gke-lab-spot-{pool_zone_hash('lab', 'spot', ZONES[0])}-grp",
        f"gke-lab-spot-{pool_zone_hash('lab', 'spot', ZONES[1])}-grp",
        f"gke-lab-std-{pool_zone_hash('lab', 'std', ZONES[0])}-grp"]
    assert len({m.name for m in migs}) == 3
    for inst in instances:
        assert re.fullmatch(r"gke-lab-(spot|std)-[0-9a-f]{8}-[a-z0-9]{4}", inst.name)
        assert inst.name.startswith(inst.mig.removesuffix("grp"))
    assert len({i.name for i in instances}) == 3 * 2 + 2
    assert {m.name: len(m.members) for m in migs} == {migs[0].name: 3, migs[1].name: 3,
                                                      migs[2].name: 2}


def test_plan_is_reproducible_per_seed_and_addresses_are_loopback() -> None:
    first = plan(layout(), seed=7)[1]
    assert first == plan(layout(), seed=7)[1]
    assert [i.name for i in first] != [i.name for i in plan(layout(), seed=8)[1]]
    ips = [ipaddress.ip_address(i.internal_ip) for i in first]
    assert len(set(ips)) == len(ips)
    assert all(ip in ipaddress.ip_network("127.10.0.0/16") for ip in ips)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"node_cidr": "10.0.0.0/24"}, "outside 127.0.0.0/8"),
    ({"pools": (NodePool("a", ("us-east1-b",), 1),)}, "not in region"),
    ({"pools": (NodePool("a", ZONES, 1, "CHEAP"),)}, "provisioning 'CHEAP'"),
    ({"pools": (NodePool("a", ZONES, 1), NodePool("a", ZONES, 1))}, "unique"),
    ({"pools": ()}, "no node pool"),
    ({"cluster": "Lab_1"}, "cluster name"),
    ({"node_cidr": "127.10.0.0/30"}, "too few addresses"),
])
def test_impossible_layouts_are_refused_with_a_reason(overrides: dict[str, object],
                                                      message: str) -> None:
    with pytest.raises(UsageError, match=message):
        plan(layout(**overrides))
