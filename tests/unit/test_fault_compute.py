"""The compute adapter with the real google-cloud-compute client, against the lab's GCE endpoint
on loopback (GCP's server is the one thing mocked)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from gameday.adapters.compute import ComputeAdapter, InstanceRef
from gameday.errors import FaultError
from gameday.lab.compute import ClusterLayout, NodePool
from gameday.lab.compute.testing import RecordingHost, RunningCompute, quick_profile, serve
from gameday.lab.profiles import get_profile

P, B = "proj", "europe-west1-b"
LAYOUT = ClusterLayout(P, "europe-west1", "lab", (NodePool("spot", (B,), 2, "SPOT"),
                                                  NodePool("std", (B,), 1)))


@pytest.fixture(scope="module")
def gce() -> Iterator[RunningCompute]:
    with serve(LAYOUT, RecordingHost(), quick_profile(get_profile("fast"))) as running:
        yield running


@pytest.fixture(scope="module")
def compute(gce: RunningCompute) -> ComputeAdapter:
    return ComputeAdapter(api_endpoint=gce.endpoint, timeout=5, operation_timeout=10)


def spot_mig(compute: ComputeAdapter) -> str:
    return next(m.name for m in compute.list_migs(P, B) if "-spot-" in m.name)


def test_lists_migs_with_members_and_policy(compute: ComputeAdapter) -> None:
    migs = {m.name: m for m in compute.list_migs(P, B)}
    assert len(migs) == 2
    spot = migs[spot_mig(compute)]
    assert len(spot.instance_names) == 2
    assert spot.default_action_on_failure == "REPAIR"


def test_preemption_is_recreated_by_the_mig_with_a_new_id(gce: RunningCompute,
                                                          compute: ComputeAdapter) -> None:
    mig = next(m for m in compute.list_migs(P, B) if m.name == spot_mig(compute))
    ref = InstanceRef(P, B, mig.instance_names[0])
    before = compute.get_instance(ref)
    assert before.provisioning == "SPOT" and before.status == "RUNNING"
    compute.simulate_maintenance_event(ref)
    gce.wait_for_event(ref.name, "recreated", timeout=10)
    after = compute.get_instance(ref)
    assert after.id != before.id  # same name, new VM: what the fault tracks


def test_stop_held_by_do_nothing_then_start_and_restore(gce: RunningCompute,
                                                        compute: ComputeAdapter) -> None:
    name = spot_mig(compute)
    ref = InstanceRef(P, B, next(m for m in compute.list_migs(P, B)
                                 if m.name == name).instance_names[1])
    compute.set_mig_failure_action(P, B, name, "DO_NOTHING")
    compute.stop_instances([ref])
    assert compute.get_instance(ref).status == "TERMINATED"
    compute.start_instances([ref])
    assert compute.get_instance(ref).status == "RUNNING"
    compute.set_mig_failure_action(P, B, name, "REPAIR")
    assert next(m for m in compute.list_migs(P, B)
                if m.name == name).default_action_on_failure == "REPAIR"


def test_missing_instance_is_a_fault_error_saying_what(compute: ComputeAdapter) -> None:
    with pytest.raises(FaultError, match="not found"):
        compute.get_instance(InstanceRef(P, B, "no-such-vm"))


def test_an_operation_longer_than_a_call_timeout_is_waited_for() -> None:
    """zoneOperations.wait is held open by the server until the operation is DONE (GCE: up to
    2 min): a start that takes longer than the per-call timeout (GKE: a VM boots in ~40 s, the
    default call timeout is 30 s) must still be waited for, not fail on a read timeout."""
    slow_boot = quick_profile(get_profile("fast"), vm_boot=2.5)
    with serve(LAYOUT, RecordingHost(), slow_boot) as gce:
        compute = ComputeAdapter(api_endpoint=gce.endpoint, timeout=1, operation_timeout=20,
                                 wait_block=5)  # the test endpoint's wait cap
        name = spot_mig(compute)
        ref = InstanceRef(P, B, next(m for m in compute.list_migs(P, B)
                                     if m.name == name).instance_names[0])
        compute.set_mig_failure_action(P, B, name, "DO_NOTHING")
        compute.stop_instances([ref])
        started = time.monotonic()
        compute.start_instances([ref])
        assert time.monotonic() - started > 2  # it really outlasted the 1 s call timeout
        assert compute.get_instance(ref).status == "RUNNING"


def test_an_unanswering_endpoint_is_a_fault_error_naming_it() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        compute = ComputeAdapter(api_endpoint=endpoint, timeout=0.5)
        with pytest.raises(FaultError, match=r"did not answer .*--gce-endpoint"):
            compute.get_instance(InstanceRef(P, B, "vm"))


def test_a_zone_goes_down_together() -> None:
    """Every stop is issued before any is waited for: all guests are shutting down before
    any is off (one after another, a 10-node zone would take 10 guest shutdowns)."""
    with serve(LAYOUT, RecordingHost(graceful_off_s=0.5),
               quick_profile(get_profile("fast"), vm_stop=2)) as gce:
        compute = ComputeAdapter(api_endpoint=gce.endpoint, timeout=5, operation_timeout=10)
        migs = compute.list_migs(P, B)
        refs = [InstanceRef(P, B, name) for m in migs for name in m.instance_names]
        for mig in migs:
            compute.set_mig_failure_action(P, B, mig.name, "DO_NOTHING")
        compute.stop_instances(refs)

        def last(event: str, name: str) -> float:
            return max(e.at for e in gce.history(name) if e.event == event)

        assert max(last("stopping", r.name) for r in refs) < \
            min(last("terminated", r.name) for r in refs)
        compute.start_instances(refs)
        assert {compute.get_instance(r).status for r in refs} == {"RUNNING"}
