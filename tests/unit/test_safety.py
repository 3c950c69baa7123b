"""Safety policy: context allowlist, blast radius, last healthy zone."""

from __future__ import annotations

import pytest

from gameday.adapters.kube import NodeInfo
from gameday.errors import SafetyError
from gameday.faults.safety import LAB_CONTEXT, BlastRadius, Safety


def node(name: str, zone: str, pool: str = "spot-pool", ready: bool = True) -> NodeInfo:
    return NodeInfo(name=name, uid=name, zone=zone, pool=pool, ready=ready,
                    unschedulable=False, provider_id=None, boot_id="b")


CLUSTER = [node(f"n-{z}{i}", f"zone-{z}") for z in "abc" for i in range(2)]


def test_lab_context_is_always_allowed() -> None:
    Safety().check_context(LAB_CONTEXT)


def test_unknown_context_is_refused_with_how_to_allow_it() -> None:
    with pytest.raises(SafetyError) as err:
        Safety().check_context("gke_prod_europe-west1_main")
    assert "--allow-context gke_prod_europe-west1_main" in str(err.value)
    assert "gameday_allowed_contexts" in str(err.value)
    Safety(allowed_contexts=frozenset({"gke_prod_europe-west1_main"})).check_context(
        "gke_prod_europe-west1_main")


def test_blast_radius_caps_node_count() -> None:
    with pytest.raises(SafetyError, match="max_nodes=1"):
        Safety(blast_radius=BlastRadius(max_nodes=1)).check_nodes(CLUSTER[:2], CLUSTER)


def test_blast_radius_caps_zone_and_pool_fraction() -> None:
    safety = Safety(blast_radius=BlastRadius(max_nodes=10, max_zone_fraction=0.5))
    safety.check_nodes([CLUSTER[0]], CLUSTER)  # 1 of 2 in zone-a: exactly the cap
    with pytest.raises(SafetyError, match="2 of 2 nodes of zone 'zone-a'"):
        safety.check_nodes(CLUSTER[:2], CLUSTER)
    pool_cap = Safety(blast_radius=BlastRadius(max_nodes=10, max_zone_fraction=1,
                                               max_pool_fraction=0.3))
    with pytest.raises(SafetyError, match="node pool 'spot-pool'"):
        pool_cap.check_nodes([CLUSTER[0], CLUSTER[2]], CLUSTER)


def test_last_healthy_zone_needs_explicit_consent() -> None:
    # zones b and c are already down: taking zone a would leave nothing
    cluster = [n if n.zone == "zone-a" else node(n.name, n.zone, ready=False) for n in CLUSTER]
    zone_a = [n for n in cluster if n.zone == "zone-a"]
    with pytest.raises(SafetyError, match="last healthy zone"):
        Safety.check_keeps_a_zone(zone_a, cluster, allow_last_zone=False)
    Safety.check_keeps_a_zone(zone_a, cluster, allow_last_zone=True)
    Safety.check_keeps_a_zone(zone_a, CLUSTER, allow_last_zone=False)  # 1 of 3 zones is fine
