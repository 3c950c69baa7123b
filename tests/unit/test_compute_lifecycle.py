"""VM lifecycles through the real GCE clients: preemption, MIG repair, stop/start/reset/delete.

Timings are tenths of a second (`quick_profile`); ground truth is the model's per-VM history
and the calls the recording host received.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pytest
from google.api_core import exceptions
from google.cloud import compute_v1

from gameday.lab.compute import ClusterLayout, NodePool
from gameday.lab.compute.testing import (
    QUICK_POLLING,
    Clients,
    RecordingHost,
    RunningCompute,
    quick_profile,
    serve,
)
from gameday.lab.profiles import Profile, get_profile

P, Z = "proj", "europe-west1-b"
LAYOUT = ClusterLayout(P, "europe-west1", "lab", (NodePool("spot", (Z,), 2, "SPOT"),
                                                  NodePool("std", (Z,), 1)))
# the notice is long enough to observe STOPPING between two HTTP calls on a busy machine
PROFILE: Profile = quick_profile(get_profile("fast"), preemption_notice=0.6)


@pytest.fixture
def host() -> RecordingHost:
    return RecordingHost()


@pytest.fixture
def lab(host: RecordingHost) -> Iterator[RunningCompute]:
    with serve(LAYOUT, host, PROFILE) as running:
        yield running


@pytest.fixture
def gce(lab: RunningCompute) -> Clients:
    return lab.clients()


def vm(gce: Clients, pool: str) -> compute_v1.Instance:
    return next(i for i in gce.instances.list(project=P, zone=Z) if f"-{pool}-" in i.name)


def mig_of(name: str) -> str:
    return name.rsplit("-", 1)[0] + "-grp"


def set_policy(gce: Clients, name: str, action: str) -> None:
    policy = compute_v1.InstanceGroupManagerInstanceLifecyclePolicy(
        default_action_on_failure=action)
    gce.migs.patch(project=P, zone=Z, instance_group_manager=mig_of(name),
                   instance_group_manager_resource=compute_v1.InstanceGroupManager(
                       instance_lifecycle_policy=policy)).result(timeout=5)


def managed(gce: Clients, name: str) -> compute_v1.ManagedInstance:
    members = gce.migs.list_managed_instances(project=P, zone=Z,
                                              instance_group_manager=mig_of(name))
    return next(m for m in members if m.name == name)


def test_spot_preemption_then_mig_recreates_with_new_id(
        lab: RunningCompute, gce: Clients, host: RecordingHost) -> None:
    host.graceful_off_s = 5.0  # the guest never finishes: the notice ends in a hard stop
    before = vm(gce, "spot")
    seen = len(lab.history(before.name))
    op = gce.instances.simulate_maintenance_event(project=P, zone=Z, instance=before.name)
    op.result(timeout=5)  # default polling: acknowledged at once
    assert op.status == compute_v1.Operation.Status.DONE
    assert op.operation_type == "compute.instances.simulateMaintenanceEvent"

    notice = lab.wait_for_event(before.name, "preemption_notice", after=seen)
    assert gce.instances.get(project=P, zone=Z, instance=before.name).status == "STOPPING"
    off = [c for c in host.of(before.name) if c.method == "power_off"]
    assert off[0].graceful is True and off[0].at - notice.at < PROFILE.preemption_notice

    terminated = lab.wait_for_event(before.name, "terminated", after=seen)
    notice_s = terminated.at - notice.at
    assert PROFILE.preemption_notice <= notice_s < PROFILE.preemption_notice + 1.0
    assert [c.graceful for c in host.of(before.name) if c.method == "power_off"] == [True, False]
    down = gce.instances.get(project=P, zone=Z, instance=before.name)
    assert down.status == "TERMINATED" and "preempted" in down.status_message
    assert down.id == before.id
    assert managed(gce, before.name).current_action == "RECREATING"
    preempted = list(gce.operations.list(request=compute_v1.ListZoneOperationsRequest(
        project=P, zone=Z, filter='operationType="compute.instances.preempted"')))
    assert [o.target_link.rsplit("/", 1)[1] for o in preempted] == [before.name]

    recreated = lab.wait_for_event(before.name, "recreated", after=seen)
    assert recreated.at - terminated.at >= PROFILE.mig_recreate_delay
    lab.wait_for_event(before.name, "running", after=seen)
    after = gce.instances.get(project=P, zone=Z, instance=before.name)
    assert (after.name, after.status) == (before.name, "RUNNING")
    assert after.id != before.id
    assert datetime.fromisoformat(after.creation_timestamp) > datetime.fromisoformat(
        before.creation_timestamp)
    assert after.network_interfaces[0].network_i_p == before.network_interfaces[0].network_i_p
    assert host.of(before.name)[-1].spec.instance_id == after.id
    assert (managed(gce, before.name).current_action, managed(gce, before.name).id) == (
        "NONE", after.id)


def test_do_nothing_keeps_a_preempted_vm_down_until_started(
        lab: RunningCompute, gce: Clients) -> None:
    before = vm(gce, "spot")
    set_policy(gce, before.name, "DO_NOTHING")
    gce.instances.simulate_maintenance_event(project=P, zone=Z, instance=before.name)
    lab.wait_for_event(before.name, "terminated")
    time.sleep(PROFILE.mig_recreate_delay + PROFILE.vm_boot + 0.2)
    assert gce.instances.get(project=P, zone=Z, instance=before.name).status == "TERMINATED"
    assert (managed(gce, before.name).current_action,
            managed(gce, before.name).instance_status) == ("NONE", "TERMINATED")
    with pytest.raises(exceptions.BadRequest, match="needs a RUNNING instance"):
        gce.instances.simulate_maintenance_event(project=P, zone=Z, instance=before.name)

    gce.instances.start(project=P, zone=Z, instance=before.name).result(
        timeout=5, polling=QUICK_POLLING)
    after = gce.instances.get(project=P, zone=Z, instance=before.name)
    assert (after.status, after.id, after.status_message) == ("RUNNING", before.id, "")
    assert [e.event for e in lab.history(before.name)].count("recreated") == 0


def test_back_to_repair_recreates_what_do_nothing_held_down(
        lab: RunningCompute, gce: Clients) -> None:
    name = vm(gce, "spot").name
    set_policy(gce, name, "DO_NOTHING")
    gce.instances.stop(project=P, zone=Z, instance=name).result(timeout=5,
                                                                polling=QUICK_POLLING)
    assert gce.instances.get(project=P, zone=Z, instance=name).status == "TERMINATED"
    set_policy(gce, name, "REPAIR")
    assert gce.migs.get(project=P, zone=Z, instance_group_manager=mig_of(name)
                        ).current_actions.recreating == 1
    lab.wait_for_event(name, "recreated")


def test_stop_waits_for_the_guest_and_repair_recreates_it(
        lab: RunningCompute, gce: Clients, host: RecordingHost) -> None:
    host.graceful_off_s = 0.1  # the guest shuts down before vm_stop's bound
    before = vm(gce, "std")
    op = gce.instances.stop(project=P, zone=Z, instance=before.name)
    waited = gce.operations.wait(project=P, zone=Z, operation=op.name)
    assert waited.status == compute_v1.Operation.Status.DONE
    assert waited.operation_type == "compute.instances.stop"
    assert waited.progress == 100 and waited.end_time >= waited.start_time
    down = gce.instances.get(project=P, zone=Z, instance=before.name)
    assert down.status == "TERMINATED" and down.status_message == ""
    assert [c.graceful for c in host.of(before.name) if c.method == "power_off"] == [True]
    events = [e.event for e in lab.history(before.name)]
    assert events[-2:] == ["stopping", "terminated"] and "hard_power_off" not in events
    lab.wait_for_event(before.name, "recreated")
    lab.wait_for_event(before.name, "running", after=len(events))
    assert gce.instances.get(project=P, zone=Z, instance=before.name).id != before.id


def test_reset_power_cycles_without_a_new_vm(
        lab: RunningCompute, gce: Clients, host: RecordingHost) -> None:
    before = vm(gce, "std")
    seen = len(lab.history(before.name))
    gce.instances.reset(project=P, zone=Z, instance=before.name).result(
        timeout=5, polling=QUICK_POLLING)
    lab.wait_for_event(before.name, "running", after=seen)
    calls = host.of(before.name)[-2:]
    assert [(c.method, c.graceful) for c in calls] == [("power_off", False), ("power_on", None)]
    assert calls[1].at - calls[0].at >= PROFILE.vm_boot
    after = gce.instances.get(project=P, zone=Z, instance=before.name)
    assert (after.status, after.id) == ("RUNNING", before.id)


def test_reset_needs_a_running_vm(lab: RunningCompute, gce: Clients) -> None:
    name = vm(gce, "std").name
    set_policy(gce, name, "DO_NOTHING")
    gce.instances.stop(project=P, zone=Z, instance=name).result(timeout=5,
                                                                polling=QUICK_POLLING)
    with pytest.raises(exceptions.BadRequest, match="reset needs a RUNNING instance"):
        gce.instances.reset(project=P, zone=Z, instance=name)


def test_delete_under_repair_is_gone_then_recreated(lab: RunningCompute, gce: Clients) -> None:
    before = vm(gce, "spot")
    gce.instances.delete(project=P, zone=Z, instance=before.name).result(
        timeout=5, polling=QUICK_POLLING)
    with pytest.raises(exceptions.NotFound):
        gce.instances.get(project=P, zone=Z, instance=before.name)
    member = managed(gce, before.name)
    assert member.current_action == "RECREATING" and not member.instance_status
    lab.wait_for_event(before.name, "recreated")
    assert gce.instances.get(project=P, zone=Z, instance=before.name).id != before.id


def test_delete_under_do_nothing_removes_the_node(
        lab: RunningCompute, gce: Clients, host: RecordingHost) -> None:
    name = vm(gce, "spot").name
    set_policy(gce, name, "DO_NOTHING")
    gce.instances.delete(project=P, zone=Z, instance=name).result(timeout=5,
                                                                  polling=QUICK_POLLING)
    lab.wait_for_event(name, "deleted")
    deadline = time.monotonic() + 2
    while not any(c.method == "remove" for c in host.of(name)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert host.of(name)[-1].method == "remove"
    members = gce.migs.list_managed_instances(project=P, zone=Z,
                                              instance_group_manager=mig_of(name))
    assert name not in [m.name for m in members]
    assert not gce.migs.get(project=P, zone=Z, instance_group_manager=mig_of(name)
                            ).status.is_stable


def test_standard_vm_live_migrates_without_outage(
        lab: RunningCompute, gce: Clients, host: RecordingHost) -> None:
    before = vm(gce, "std")
    calls = len(host.of(before.name))
    gce.instances.simulate_maintenance_event(project=P, zone=Z, instance=before.name).result(
        timeout=5)
    assert lab.history(before.name)[-1].event == "live_migrated"
    time.sleep(PROFILE.preemption_notice)
    after = gce.instances.get(project=P, zone=Z, instance=before.name)
    assert (after.status, after.id) == ("RUNNING", before.id)
    assert len(host.of(before.name)) == calls


def test_a_superseded_operation_fails_with_its_reason(
        lab: RunningCompute, gce: Clients, host: RecordingHost) -> None:
    host.graceful_off_s = 1.0  # the stop is still shutting the guest down when delete comes
    name = vm(gce, "std").name
    stop = gce.instances.stop(project=P, zone=Z, instance=name)
    gce.instances.delete(project=P, zone=Z, instance=name)
    with pytest.raises(exceptions.BadRequest, match="superseded by a later call"):
        stop.result(timeout=5, polling=QUICK_POLLING)
    failed = gce.operations.get(project=P, zone=Z, operation=stop.name)
    assert failed.status == compute_v1.Operation.Status.DONE
    assert failed.error.errors[0].code == "RESOURCE_NOT_READY"
    assert failed.http_error_status_code == 400
