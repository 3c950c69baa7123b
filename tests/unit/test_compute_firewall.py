"""The lab's VPC firewall (tags, rules, who reaches whom) driven by the real google-cloud-compute
client through the compute adapter, as a zone partition drives it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1

from gameday.adapters.compute import ComputeAdapter, FirewallRule, InstanceRef
from gameday.errors import FaultError
from gameday.faults.zone_partition import partition_rules
from gameday.lab.compute import ClusterLayout, NodePool
from gameday.lab.compute.testing import RecordingHost, RunningCompute, quick_profile, serve
from gameday.lab.profiles import get_profile

P, B, C = "proj", "europe-west1-b", "europe-west1-c"
LAYOUT = ClusterLayout(P, "europe-west1", "lab", (NodePool("std", (B, C), 1),),
                       node_cidr="127.10.0.0/16")
API = ("127.0.0.1", 6443)
GCLB = "35.191.0.9"


@pytest.fixture(scope="module")
def gce() -> Iterator[RunningCompute]:
    with serve(LAYOUT, RecordingHost(), quick_profile(get_profile("fast"))) as running:
        yield running


@pytest.fixture(scope="module")
def compute(gce: RunningCompute) -> ComputeAdapter:
    return ComputeAdapter(api_endpoint=gce.endpoint, timeout=5, operation_timeout=10)


def vm(gce: RunningCompute, zone: str) -> tuple[InstanceRef, str]:
    inst = gce.model.instances(zone)[0]
    return InstanceRef(P, zone, inst.name), inst.internal_ip


def test_partition_rules_cut_a_tagged_vm_and_keep_the_load_balancer(
        gce: RunningCompute, compute: ComputeAdapter) -> None:
    (ref_b, ip_b), (_, ip_c) = vm(gce, B), vm(gce, C)
    pod_b = ip_b.rsplit(".", 2)[0] + "." + ip_b.rsplit(".", 1)[1] + ".2"  # in B's pod range
    before = compute.network_tags(ref_b)
    assert before is not None and before.items == ("gke-lab-node",)
    assert before.network.endswith(f"/projects/{P}/global/networks/default")
    rules = partition_rules("gameday-partition-t1", before.network, keep_load_balancer=True)
    for rule in rules:
        compute.insert_firewall(P, rule)
    net = gce.model.network
    assert gce.call(lambda: net.blocked(ip_b, *API)) is None  # rules alone target no VM yet
    compute.set_tags([(ref_b, [*before.items, "gameday-partition-t1"], before.fingerprint)])
    blocked = gce.call(lambda: net.blocked(ip_b, *API))
    assert blocked is not None and "gameday-partition-t1-deny-egress" in blocked
    assert gce.call(lambda: net.blocked(pod_b, ip_c, 8080)) is not None  # cross-zone, out
    assert gce.call(lambda: net.blocked(ip_c, pod_b, 8080)) is not None  # cross-zone, in
    assert gce.call(lambda: net.blocked(GCLB, pod_b, 8080)) is None  # the LB still serves
    assert gce.call(lambda: net.blocked(ip_c, *API)) is None  # the other zone is untouched
    assert gce.call(lambda: net.blocked(ip_b, pod_b, 8080)) is None  # inside the VM
    assert compute.firewall_names(P, "gameday-partition-t1") == sorted(r.name for r in rules)
    stale = before.fingerprint
    with pytest.raises(FaultError, match=r"412|fingerprint"):
        compute.set_tags([(ref_b, list(before.items), stale)])
    now = compute.network_tags(ref_b)
    assert now is not None
    compute.set_tags([(ref_b, list(before.items), now.fingerprint)])
    assert gce.call(lambda: net.blocked(ip_b, *API)) is None
    assert all(compute.delete_firewall(P, r.name) for r in rules)
    assert not compute.delete_firewall(P, rules[0].name)  # idempotent: already gone
    assert compute.firewall_names(P, "gameday-partition-") == []


def test_without_the_allow_the_load_balancer_is_cut_too(gce: RunningCompute,
                                                       compute: ComputeAdapter) -> None:
    ref_b, ip_b = vm(gce, B)
    tags = compute.network_tags(ref_b)
    assert tags is not None
    rules = partition_rules("gameday-partition-t2", tags.network, keep_load_balancer=False)
    for rule in rules:
        compute.insert_firewall(P, rule)
    compute.set_tags([(ref_b, [*tags.items, "gameday-partition-t2"], tags.fingerprint)])
    try:
        assert gce.call(lambda: gce.model.network.blocked(GCLB, ip_b, 8080)) is not None
    finally:
        now = compute.network_tags(ref_b)
        assert now is not None
        compute.set_tags([(ref_b, list(tags.items), now.fingerprint)])
        for rule in rules:
            compute.delete_firewall(P, rule.name)


def test_firewall_api_refuses_what_gce_refuses(gce: RunningCompute) -> None:
    firewalls = compute_v1.FirewallsClient(credentials=AnonymousCredentials(),
                                           client_options={"api_endpoint": gce.endpoint})
    with pytest.raises(exceptions.BadRequest, match="exactly one of allowed or denied"):
        firewalls.insert(project=P, firewall_resource=compute_v1.Firewall(name="bad"))
    with pytest.raises(exceptions.NotFound):
        firewalls.get(project=P, firewall="nope")
    rule = FirewallRule("dup", "", "INGRESS", 5, "deny", ("127.200.0.0/16",), ())
    adapter = ComputeAdapter(api_endpoint=gce.endpoint, timeout=5)
    adapter.insert_firewall(P, rule)
    try:
        with pytest.raises(FaultError, match="already exists"):
            adapter.insert_firewall(P, rule)
        got = firewalls.get(project=P, firewall="dup")
        assert got.priority == 5 and got.source_ranges == ["127.200.0.0/16"]
        assert got.denied[0].I_p_protocol == "all"
    finally:
        adapter.delete_firewall(P, "dup")
