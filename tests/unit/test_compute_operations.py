"""Zone operations alone: wait's bound, failure, and a host that never boots its node."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from gameday.errors import ConditionTimeout
from gameday.lab.compute import ClusterLayout, NodePool
from gameday.lab.compute.operations import OperationError, OperationLog
from gameday.lab.compute.testing import RecordingHost, quick_profile, serve
from gameday.lab.hollow.host import NodeSpec
from gameday.lab.profiles import get_profile

Z = "europe-west1-b"


def test_wait_returns_the_running_operation_at_its_bound_and_done_when_done() -> None:
    async def scenario() -> None:
        log = OperationLog("proj", random.Random(1))
        op = log.begin(Z, "compute.instances.stop", f"projects/proj/zones/{Z}/instances/a", 1)
        started = time.monotonic()
        assert (await log.wait(Z, op.name, 0.2)).status == "RUNNING"
        assert 0.2 <= time.monotonic() - started < 1.0
        asyncio.get_running_loop().call_later(0.1, log.finish, op,
                                              OperationError(400, "R", "why"))
        done = await log.wait(Z, op.name, 5)
        assert (done.status, done.progress, done.error) == ("DONE", 100,
                                                            OperationError(400, "R", "why"))
        assert done.end_time is not None and done.end_time >= done.start_time
        assert log.list(Z) == [op] and log.list("europe-west1-c") == []

    asyncio.run(scenario())


class NeverBoots(RecordingHost):
    async def power_on(self, spec: NodeSpec) -> None:
        await asyncio.sleep(3600)


def test_start_names_the_vms_whose_boot_did_not_finish() -> None:
    layout = ClusterLayout("proj", "europe-west1", "lab", (NodePool("std", (Z,), 1),))
    with pytest.raises(ConditionTimeout, match="node host calls"), serve(
            layout, NeverBoots(), quick_profile(get_profile("fast")), start_timeout=0.3):
        pytest.fail("the lab must not come up when its nodes never power on")
