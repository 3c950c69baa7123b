"""Pure parts of the faults: providerID parsing, node selection, kill counts, annotations."""

from __future__ import annotations

import pytest

from gameday.adapters.compute import InstanceRef, parse_provider_id
from gameday.adapters.kube import NodeInfo, PodInfo
from gameday.errors import UsageError
from gameday.faults.healthcheck_lag import backend_config_name
from gameday.faults.pod_kill import how_many
from gameday.faults.selection import NodeSelector, known_zones
from gameday.node_loss import pods_per_node, spread_spot_nodes


def test_provider_id_is_parsed_exactly() -> None:
    ref = parse_provider_id("gce://my-proj/europe-west1-b/gke-lab-spot-1a2b3c4d-x9z1")
    assert ref == InstanceRef("my-proj", "europe-west1-b", "gke-lab-spot-1a2b3c4d-x9z1")
    assert str(ref) == "gce://my-proj/europe-west1-b/gke-lab-spot-1a2b3c4d-x9z1"


@pytest.mark.parametrize("bad", ["", "aws:///eu-west-1a/i-0abc", "gce://p/z", "gce://p/z/n/x",
                                 "gce:///z/n", "xgce://p/z/n", "gce://p/z/n "])
def test_provider_id_rejects_anything_else(bad: str) -> None:
    with pytest.raises(UsageError, match="not gce://PROJECT/ZONE/INSTANCE"):
        parse_provider_id(bad)


def node(name: str, zone: str, pool: str, spot: bool = False, ready: bool = True) -> NodeInfo:
    labels = {"cloud.google.com/gke-spot": "true"} if spot else {}
    return NodeInfo(name=name, uid=name, zone=zone, pool=pool, ready=ready, unschedulable=False,
                    provider_id=None, boot_id="b", labels=labels)


NODES = [node("n-b2", "b", "spot", spot=True), node("n-b1", "b", "spot", spot=True),
         node("n-c1", "c", "std"), node("n-b10", "b", "spot", spot=True, ready=False)]


def test_selector_is_exact_and_deterministic() -> None:
    picked = NodeSelector(zone="b", provisioning="spot", count=2).select(NODES)
    assert [n.name for n in picked] == ["n-b1", "n-b2"]  # NotReady n-b10 is not a candidate
    assert [n.name for n in NodeSelector(names=("n-b1",)).select(NODES)] == ["n-b1"]
    assert NodeSelector(pool="std").select(NODES)[0].name == "n-c1"
    assert known_zones(NODES) == ["b", "c"]


def test_selector_explains_a_miss() -> None:
    with pytest.raises(UsageError, match="no such node"):
        NodeSelector(names=("n-b",)).select(NODES)  # a prefix of real names: never a match
    with pytest.raises(UsageError, match="matches 0 Ready node"):
        NodeSelector(zone="c", provisioning="any-spot").select(NODES)
    with pytest.raises(UsageError, match="provisioning"):
        NodeSelector(provisioning="cheap").select(NODES)


def test_kill_count_and_percent() -> None:
    assert how_many(3, 1, None) == 1
    assert how_many(3, 5, None) == 3
    assert how_many(3, None, 1) == 1  # rounds up: 1 % of 3 still kills one
    assert how_many(10, None, 50) == 5
    for count, percent in ((None, None), (1, 50), (0, None), (None, 0), (None, 150)):
        with pytest.raises(UsageError):
            how_many(3, count, percent)


def test_backend_config_annotation() -> None:
    ann = {"cloud.google.com/backend-config": '{"ports": {"80": "bc-80"}, "default": "bc"}'}
    assert backend_config_name(ann, "80") == "bc-80"
    assert backend_config_name(ann, "8080") == "bc"
    assert backend_config_name({"beta.cloud.google.com/backend-config": '{"default": "old"}'},
                               None) == "old"
    assert backend_config_name({}, None) is None
    with pytest.raises(UsageError, match="not JSON"):
        backend_config_name({"cloud.google.com/backend-config": "bc"}, None)


def test_spot_nodes_spread_over_zones_those_with_the_app_first() -> None:
    nodes = [node("s-b1", "b", "spot", spot=True), node("s-b2", "b", "spot", spot=True),
             node("s-c1", "c", "spot", spot=True), node("s-c2", "c", "spot", spot=True),
             node("std-b", "b", "std")]
    assert spread_spot_nodes(nodes, 2).names == ("s-b1", "s-c1")  # by zone, then by name
    busy = {"s-b2": 2, "s-c2": 1, "std-b": 5}  # pods of the app per node
    assert spread_spot_nodes(nodes, 3, busy).names == ("s-b2", "s-c2", "s-b1")
    with pytest.raises(UsageError, match="only 4 Ready Spot"):
        spread_spot_nodes(nodes, 5, busy)


def pod(name: str, node: str | None, phase: str = "Running", terminating: bool = False) -> PodInfo:
    return PodInfo(name=name, namespace="app", uid=name, node=node, ip=None, phase=phase,
                   ready=phase == "Running", owner_kind="ReplicaSet", mirror=False,
                   terminating=terminating)


def test_pods_per_node_counts_only_pods_still_running_there() -> None:
    pods = [pod("a", "s-b1"), pod("b", "s-b1"), pod("c", "s-c1"),
            pod("shut-down", "s-c2", phase="Failed"), pod("done", "s-c2", phase="Succeeded"),
            pod("leaving", "s-c2", terminating=True), pod("pending", None, phase="Pending")]
    assert pods_per_node(pods) == {"s-b1": 2, "s-c1": 1}
