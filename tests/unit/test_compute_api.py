"""Shapes and errors of the lab's Compute Engine endpoint, read with the real GCE clients."""

from __future__ import annotations

import ipaddress
import json
import urllib.request
from collections.abc import Iterator
from datetime import datetime

import pytest
from google.api_core import exceptions
from google.cloud import compute_v1

from gameday.lab.compute import ClusterLayout, NodePool
from gameday.lab.compute.testing import Clients, RecordingHost, RunningCompute, quick_profile, serve
from gameday.lab.profiles import get_profile

P, B, C = "proj", "europe-west1-b", "europe-west1-c"
LAYOUT = ClusterLayout(P, "europe-west1", "lab", (NodePool("spot", (B, C), 2, "SPOT"),
                                                  NodePool("std", (B,), 1)))


@pytest.fixture(scope="module")
def lab() -> Iterator[RunningCompute]:
    with serve(LAYOUT, RecordingHost(), quick_profile(get_profile("fast"))) as running:
        yield running


@pytest.fixture(scope="module")
def gce(lab: RunningCompute) -> Clients:
    return lab.clients()


def raw(lab: RunningCompute, path: str) -> dict:
    with urllib.request.urlopen(f"{lab.endpoint}/compute/v1/projects/{P}/{path}",
                                timeout=5) as resp:
        return json.load(resp)


def test_instances_carry_the_fields_gke_tools_read(lab: RunningCompute, gce: Clients) -> None:
    items = list(gce.instances.list(project=P, zone=B))
    assert len(items) == 3
    spot = next(i for i in items if "-spot-" in i.name)
    std = next(i for i in items if "-std-" in i.name)
    assert spot.status == "RUNNING"
    assert spot.zone.endswith(f"/projects/{P}/zones/{B}")
    assert spot.self_link.endswith(f"/projects/{P}/zones/{B}/instances/{spot.name}")
    assert spot.scheduling.preemptible and spot.scheduling.provisioning_model == "SPOT"
    assert not std.scheduling.preemptible and std.scheduling.provisioning_model == "STANDARD"
    assert spot.labels["goog-k8s-node-pool-name"] == "spot"
    assert spot.labels["goog-k8s-cluster-name"] == "lab"
    assert ipaddress.ip_address(spot.network_interfaces[0].network_i_p).is_loopback
    created = datetime.fromisoformat(spot.creation_timestamp)
    assert datetime.fromisoformat(spot.last_start_timestamp) > created
    created_by = {m.key: m.value for m in spot.metadata.items}["created-by"]
    assert created_by.endswith(f"/zones/{B}/instanceGroupManagers/"
                               f"{spot.name.rsplit('-', 1)[0]}-grp")
    body = raw(lab, f"zones/{B}/instances/{spot.name}")
    assert body["kind"] == "compute#instance"
    assert isinstance(body["id"], str) and body["id"].isdigit()
    assert int(body["id"]) == spot.id


def test_get_and_aggregated_list_agree(gce: Clients) -> None:
    scopes = dict(gce.instances.aggregated_list(project=P))
    assert {k: len(v.instances) for k, v in scopes.items()} == {f"zones/{B}": 3,
                                                                f"zones/{C}": 2}
    one = scopes[f"zones/{C}"].instances[0]
    assert gce.instances.get(project=P, zone=C, instance=one.name) == one


def test_filter_selects_and_unsupported_filter_is_a_400(gce: Clients) -> None:
    def listed(expr: str) -> list[str]:
        request = compute_v1.ListInstancesRequest(project=P, zone=B, filter=expr)
        return [i.name for i in gce.instances.list(request=request)]

    spot = listed('scheduling.provisioningModel = "SPOT"')
    assert len(spot) == 2 and all("-spot-" in name for name in spot)
    others = listed(f"(name != {spot[0]}) AND (labels.goog-k8s-cluster-name = lab)")
    assert len(others) == 2 and spot[0] not in others
    assert listed("name eq gke-lab-std-.*") == [n for n in listed("") if "-std-" in n]
    with pytest.raises(exceptions.BadRequest, match="only 'field = value'"):
        listed("name:gke-*")


@pytest.mark.parametrize("call", [
    lambda g: g.instances.get(project=P, zone=B, instance="no-such-vm"),
    lambda g: g.instances.get(project=P, zone="us-east1-b", instance="x"),
    lambda g: g.instances.get(project="other", zone=B, instance="x"),
    lambda g: g.instances.stop(project=P, zone=B, instance="no-such-vm"),
    lambda g: g.operations.get(project=P, zone=B, operation="operation-1"),
    lambda g: g.migs.get(project=P, zone=B, instance_group_manager="nope-grp"),
    lambda g: g.regions.get(project=P, region="us-east1"),
], ids=["instance", "zone", "project", "stop", "operation", "mig", "region"])
def test_unknown_resources_are_not_found(gce: Clients, call) -> None:
    with pytest.raises(exceptions.NotFound, match="was not found"):
        call(gce)


def test_error_body_is_gce_shaped(lab: RunningCompute) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        raw(lab, f"zones/{B}/instances/no-such-vm")
    assert info.value.code == 404
    error = json.load(info.value)["error"]
    assert error["code"] == 404
    assert error["errors"][0]["reason"] == "notFound"
    assert error["message"] == f"The resource 'projects/{P}/zones/{B}/instances/no-such-vm' " \
                               "was not found"


def test_zones_and_region(gce: Clients) -> None:
    zones = list(gce.zones.list(project=P))
    assert [z.name for z in zones] == [B, C]
    assert all(z.status == "UP" and z.region.endswith("/regions/europe-west1") for z in zones)
    region = gce.regions.get(project=P, region="europe-west1")
    assert [z.rsplit("/", 1)[1] for z in region.zones] == [B, C]


def test_migs_list_their_members(gce: Clients) -> None:
    migs = {m.name: m for m in gce.migs.list(project=P, zone=B)}
    assert len(migs) == 2
    spot = next(m for name, m in migs.items() if "-spot-" in name)
    assert spot.target_size == 2
    assert spot.instance_lifecycle_policy.default_action_on_failure == "REPAIR"
    assert spot.current_actions.none == 2 and spot.status.is_stable
    assert spot.base_instance_name == spot.name.removesuffix("-grp")
    members = list(gce.migs.list_managed_instances(project=P, zone=B,
                                                   instance_group_manager=spot.name))
    assert sorted(m.name for m in members) == sorted(
        i.name for i in gce.instances.list(project=P, zone=B) if "-spot-" in i.name)
    assert {(m.instance_status, m.current_action) for m in members} == {("RUNNING", "NONE")}


@pytest.mark.parametrize(("resource", "message"), [
    (compute_v1.InstanceGroupManager(instance_lifecycle_policy=compute_v1.
                                     InstanceGroupManagerInstanceLifecyclePolicy(
                                         default_action_on_failure="IGNORE")), "IGNORE"),
    (compute_v1.InstanceGroupManager(target_size=5), "targetSize"),
], ids=["bad-action", "unsupported-field"])
def test_mig_patch_refuses_what_the_lab_cannot_do(gce: Clients, resource, message) -> None:
    name = next(iter(gce.migs.list(project=P, zone=C))).name
    with pytest.raises(exceptions.BadRequest, match=message):
        gce.migs.patch(project=P, zone=C, instance_group_manager=name,
                       instance_group_manager_resource=resource)
    assert gce.migs.get(project=P, zone=C, instance_group_manager=name
                        ).instance_lifecycle_policy.default_action_on_failure == "REPAIR"
