"""LabConfig validation, GKE layout and loopback-only address plans."""

from __future__ import annotations

import ipaddress

import pytest

from gameday.errors import UsageError
from gameday.lab.compute.layout import plan
from gameday.lab.config import LabConfig, PodIPAllocator, PoolConfig

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nodes": 0}, "at least 1"),
        ({"nodes": 2, "zones": 3}, "more zones"),
        ({"nodes": 7, "zones": 3}, "multiple of 3"),
        ({"profile": "slow"}, "unknown timing profile"),
        ({"ip_block": 96}, "ip-block"),
        ({"pools": (PoolConfig("a"), PoolConfig("a"))}, "unique"),
    ],
)
def test_bad_configs_are_refused_with_a_reason(kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        LabConfig(**kwargs).validate()


def test_pool_parsing() -> None:
    assert PoolConfig.parse("default-pool:standard") == PoolConfig("default-pool", "standard")
    assert PoolConfig.parse("spot-pool").kind == "spot"
    with pytest.raises(UsageError, match="unknown provisioning"):
        PoolConfig.parse("x:cheap")
    with pytest.raises(UsageError, match="bad node pool name"):
        PoolConfig.parse("Bad_Name")


def test_default_layout_is_six_spot_nodes_over_three_zones() -> None:
    config = LabConfig(ip_block=20).validate()
    _, instances = plan(config.to_layout())
    assert len(instances) == 6
    assert sorted({i.zone for i in instances}) == [
        "europe-west1-b", "europe-west1-c", "europe-west1-d"]
    assert {i.pool.provisioning for i in instances} == {"SPOT"}
    for inst in instances:
        assert inst.name.startswith("gke-lab-spot-pool-")
        assert ipaddress.ip_address(inst.internal_ip) in LOOPBACK


def test_two_pools_get_the_same_count_in_every_zone() -> None:
    config = LabConfig(nodes=12, pools=(PoolConfig("a", "standard"), PoolConfig("b", "spot")),
                       ip_block=20)
    _, instances = plan(config.validate().to_layout())
    per = {(i.pool.name, i.zone) for i in instances}
    assert len(per) == 6
    assert len({i.internal_ip for i in instances}) == 12


def test_pod_ips_are_loopback_distinct_per_node_and_reused() -> None:
    a, b = PodIPAllocator("127.20.0.1"), PodIPAllocator("127.20.0.2")
    ip_a, ip_b = a.allocate(), b.allocate()
    assert ip_a == "127.20.1.2" and ip_b == "127.20.2.2"
    ips = {a.allocate() for _ in range(252)}
    assert all(ipaddress.ip_address(ip) in LOOPBACK for ips_ in (ips,) for ip in ips_)
    with pytest.raises(UsageError, match="no pod IP left"):
        a.allocate()
    a.release("127.20.1.9")
    assert a.allocate() == "127.20.1.9"


def test_reserved_ip_is_not_handed_out_again() -> None:
    alloc = PodIPAllocator("127.20.0.3")
    alloc.reserve("127.20.3.2")
    assert alloc.allocate() == "127.20.3.3"
