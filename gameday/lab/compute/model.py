"""The lab's Compute Engine: VM power states, managed instance groups and their repair.

Why a state machine of our own: a game day's faults (preemption, stop, reset, delete, a zone
held down by DO_NOTHING) are VM events, and what the cluster sees must follow from them the way
it does on GKE. The model owns VM state only; what runs on a VM is reached through `NodeHost`
(power_on / power_off / remove). It lives in one asyncio loop (labd's): every delay is an
asyncio task, one lifecycle task per VM, and a new action on a VM cancels the one in flight.

Timings come from the profile: `vm_boot` (PROVISIONING -> RUNNING), `vm_stop` (bound on a guest
shutdown), `preemption_notice` (bound on a preempted guest's shutdown), `mig_recreate_delay`
(a failed member until its MIG recreates it). A shutdown ends when the guest is off or when its
bound is reached, whichever is first; at the bound the VM is powered off hard, as GCE does.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gameday.errors import ConditionTimeout
from gameday.lab.compute.errors import invalid, not_found, not_ready
from gameday.lab.compute.layout import ClusterLayout, NodePool, PlannedMig, plan
from gameday.lab.compute.network import VpcNetwork
from gameday.lab.compute.operations import SYSTEM, Operation, OperationError, OperationLog
from gameday.lab.hollow.host import NodeHost, NodeSpec
from gameday.lab.profiles import Profile

log = logging.getLogger(__name__)

HOST_CALL_TIMEOUT = 120.0  # a NodeHost call that hangs longer is logged and the VM moves on
FAILURE_ACTIONS = ("REPAIR", "DO_NOTHING")


@dataclass(frozen=True)
class HistoryEvent:
    """Ground truth for tests and reports: what happened to the VM slot, and when (wall s)."""

    at: float
    event: str  # provisioning, running, stopping, terminated, preemption_notice, ...
    instance_id: int


@dataclass
class Instance:
    """A VM slot of a MIG; `id` and `created` change when the MIG recreates the VM."""

    name: str
    zone: str
    pool: NodePool
    mig: str
    internal_ip: str
    id: int
    created: float
    status: str = "PROVISIONING"
    exists: bool = True  # False between a delete and the MIG's recreation
    preempted: bool = False
    current_action: str = "CREATING"  # the MIG's view: NONE, CREATING, RECREATING, ...
    last_start: float | None = None
    last_stop: float | None = None


@dataclass
class Mig:
    """A managed instance group: one node pool in one zone."""

    planned: PlannedMig
    id: int
    created: float
    action_on_failure: str = "REPAIR"


class ComputeModel:
    """Every VM and MIG of the lab cluster. Call `await start()` in labd's loop, `close()` last."""

    def __init__(self, layout: ClusterLayout, host: NodeHost, profile: Profile, *,
                 seed: int | None = None, wait_cap: float = 120.0) -> None:
        self.layout = layout
        self.profile = profile
        self.wait_cap = wait_cap  # zoneOperations.wait's longest block (GCE: 2 minutes)
        self._host = host
        self._rng = random.Random(seed)
        self.operations = OperationLog(layout.project, self._rng)
        planned_migs, planned = plan(layout, seed)
        now = time.time()
        self.migs = {(m.zone, m.name): Mig(m, self._new_id(), now) for m in planned_migs}
        self._instances = {p.name: Instance(p.name, p.zone, p.pool, p.mig, p.internal_ip,
                                            self._new_id(), now) for p in planned}
        self._history: dict[str, list[HistoryEvent]] = {name: [] for name in self._instances}
        self.network = VpcNetwork(  # every GKE node VM carries its cluster's node tag
            layout.project, lambda: [(i.name, i.internal_ip) for i in self.instances()],
            default_tags=[f"gke-{layout.cluster}-node"])
        self._tasks: dict[str, asyncio.Task[None]] = {}

    # ----- lifecycle of the model itself

    async def start(self, timeout: float | None = None) -> None:
        """Bring every VM up and return once all are RUNNING and their nodes powered on.

        No boot delay here: `lab up` stands for a cluster that already exists, so only VMs
        (re)created during a game day pay the profile's vm_boot.
        """
        for inst in self._instances.values():
            self._record(inst, "provisioning")
            self._run(inst, self._boot(inst, None, boot_s=0.0))
        bound = timeout if timeout is not None else HOST_CALL_TIMEOUT
        try:
            await asyncio.wait_for(asyncio.gather(*self._tasks.values()), bound)
        except TimeoutError:
            booting = [i.name for i in self._instances.values() if i.status != "RUNNING"]
            raise ConditionTimeout("every lab VM to be RUNNING and its node powered on",
                                   bound, f"not yet: {', '.join(booting) or 'node host calls'}"
                                   ) from None

    async def close(self) -> None:
        """Cancel every timer; VMs stay in whatever state they reached."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    # ----- queries

    def instance(self, zone: str, name: str) -> Instance:
        """The VM, or GCE's 404 (also while a deleted member awaits recreation)."""
        inst = self._instances.get(name)
        if inst is None or inst.zone != zone or not inst.exists:
            raise not_found(self.path(zone, "instances", name))
        return inst

    def instances(self, zone: str | None = None) -> list[Instance]:
        """Existing VMs, of one zone or all."""
        return [i for i in self._instances.values()
                if i.exists and (zone is None or i.zone == zone)]

    def mig(self, zone: str, name: str) -> Mig:
        """The group, or GCE's 404."""
        try:
            return self.migs[(zone, name)]
        except KeyError:
            raise not_found(self.path(zone, "instanceGroupManagers", name)) from None

    def members(self, mig: Mig) -> list[Instance]:
        """The group's VMs that exist or are being (re)created."""
        slots = [self._instances[n] for n in mig.planned.members if n in self._instances]
        return [i for i in slots if i.exists or i.current_action != "NONE"]

    def history(self, name: str) -> list[HistoryEvent]:
        """Everything that happened to the VM slot `name`, oldest first (a copy)."""
        if name not in self._history:
            raise KeyError(f"no instance named {name!r} in the lab layout")
        return list(self._history[name])

    def path(self, zone: str, collection: str, name: str) -> str:
        """A zonal resource path, as GCE's messages and targetLinks name it."""
        return f"projects/{self.layout.project}/zones/{zone}/{collection}/{name}"

    def spec(self, inst: Instance) -> NodeSpec:
        """What the booting VM tells its kubelet."""
        return NodeSpec(name=inst.name, zone=inst.zone, region=self.layout.region,
                        pool=inst.pool.name, provisioning=inst.pool.provisioning,
                        project=self.layout.project, instance_id=inst.id,
                        internal_ip=inst.internal_ip)

    # ----- API actions: each returns the operation the caller polls

    def stop_instance(self, zone: str, name: str) -> Operation:
        """Guest shutdown, then TERMINATED; a no-op on an instance already stopping or stopped."""
        inst = self.instance(zone, name)
        op = self._begin(inst, "stop")
        if inst.status in ("STOPPING", "TERMINATED"):
            self.operations.finish(op)
        else:
            self._run(inst, self._shutdown_then(inst, op, self.profile.vm_stop, delete=False), op)
        return op

    def start_instance(self, zone: str, name: str) -> Operation:
        """Boot a TERMINATED VM (same id); a no-op if it is already up or booting."""
        inst = self.instance(zone, name)
        if inst.status == "STOPPING":
            raise not_ready(self.path(zone, "instances", name), "it is stopping; start it "
                            "once its status is TERMINATED")
        op = self._begin(inst, "start")
        if inst.status != "TERMINATED":
            self.operations.finish(op)
            return op
        inst.preempted = False
        inst.current_action = "NONE"  # a user start supersedes a pending MIG repair
        self._run(inst, self._boot(inst, op), op)
        return op

    def reset_instance(self, zone: str, name: str) -> Operation:
        """Hard power cycle of a RUNNING VM: same id, no guest shutdown."""
        inst = self.instance(zone, name)
        if inst.status != "RUNNING":
            raise not_ready(self.path(zone, "instances", name),
                            f"reset needs a RUNNING instance and it is {inst.status}")
        op = self._begin(inst, "reset")
        self._run(inst, self._reset(inst, op), op)
        return op

    def delete_instance(self, zone: str, name: str) -> Operation:
        """Shut down and delete; the MIG recreates it under REPAIR, else the node is removed."""
        inst = self.instance(zone, name)
        op = self._begin(inst, "delete")
        self._run(inst, self._shutdown_then(inst, op, self.profile.vm_stop, delete=True), op)
        return op

    def simulate_maintenance_event(self, zone: str, name: str) -> Operation:
        """On a preemptible/Spot VM a preemption, on a standard VM a live migration."""
        inst = self.instance(zone, name)
        if inst.status != "RUNNING":
            raise not_ready(self.path(zone, "instances", name), "simulateMaintenanceEvent "
                            f"needs a RUNNING instance and it is {inst.status}")
        op = self._begin(inst, "simulateMaintenanceEvent")
        if inst.pool.provisioning == "STANDARD":
            self._record(inst, "live_migrated")
        else:
            self._run(inst, self._preempt(inst))
        self.operations.finish(op)  # GCE acknowledges at once; the notice runs on its own
        return op

    def patch_mig(self, zone: str, name: str, action_on_failure: str | None) -> Operation:
        """instanceGroupManagers.patch of instanceLifecyclePolicy.defaultActionOnFailure
        (None: unchanged). Going back to REPAIR repairs the members that are down."""
        mig = self.mig(zone, name)
        action = action_on_failure or mig.action_on_failure
        if action not in FAILURE_ACTIONS:
            raise invalid("instanceLifecyclePolicy.defaultActionOnFailure",
                          f"{action!r} is not one of {', '.join(FAILURE_ACTIONS)}")
        mig.action_on_failure = action
        op = self.operations.begin(zone, "compute.instanceGroupManagers.patch",
                                   self.path(zone, "instanceGroupManagers", name), mig.id)
        if action == "REPAIR":
            for inst in (self._instances[n] for n in mig.planned.members):
                down = inst.status == "TERMINATED" or not inst.exists
                if down and inst.current_action == "NONE" and not self._busy(inst):
                    self._run(inst, self._repair(inst))
        self.operations.finish(op)
        return op

    # ----- flows (one task per VM)

    async def _boot(self, inst: Instance, op: Operation | None,
                    boot_s: float | None = None) -> None:
        boot_s = self.profile.vm_boot if boot_s is None else boot_s
        inst.status = "PROVISIONING"
        await asyncio.sleep(boot_s / 2)
        inst.status = "STAGING"
        await asyncio.sleep(boot_s / 2)
        inst.status = "RUNNING"
        inst.current_action = "NONE"
        inst.last_start = time.time()
        self._record(inst, "running")
        if op is not None:
            self.operations.finish(op)
        await self._host_call(inst, "power_on", lambda: self._host.power_on(self.spec(inst)))

    async def _shutdown(self, inst: Instance, bound: float) -> None:
        """Graceful power off until the guest is off or `bound` passes, then hard off."""
        inst.status = "STOPPING"
        graceful = asyncio.create_task(self._host_call(
            inst, "power_off", lambda: self._host.power_off(inst.name, graceful=True)))
        try:
            done, _ = await asyncio.wait({graceful}, timeout=bound)
        finally:
            if not graceful.done():
                graceful.cancel()
        if not done:
            self._record(inst, "hard_power_off")
            await self._host_call(inst, "power_off",
                                  lambda: self._host.power_off(inst.name, graceful=False))
        inst.last_stop = time.time()

    async def _shutdown_then(self, inst: Instance, op: Operation, bound: float, *,
                             delete: bool) -> None:
        self._record(inst, "stopping")
        await self._shutdown(inst, bound)
        self.operations.finish(op)
        if delete:
            inst.exists = False
            inst.status = "TERMINATED"
            self._record(inst, "deleted")
        else:
            inst.status = "TERMINATED"
            self._record(inst, "terminated")
        await self._after_failure(inst)

    async def _preempt(self, inst: Instance) -> None:
        self._record(inst, "preemption_notice")
        await self._shutdown(inst, self.profile.preemption_notice)
        inst.status = "TERMINATED"
        inst.preempted = True
        self._record(inst, "terminated")
        self.operations.record(inst.zone, "compute.instances.preempted",
                               self.path(inst.zone, "instances", inst.name), inst.id)
        await self._after_failure(inst)

    async def _reset(self, inst: Instance, op: Operation) -> None:
        self._record(inst, "reset")
        await self._host_call(inst, "power_off",
                              lambda: self._host.power_off(inst.name, graceful=False))
        self.operations.finish(op)
        await asyncio.sleep(self.profile.vm_boot)
        inst.last_start = time.time()
        self._record(inst, "running")
        await self._host_call(inst, "power_on", lambda: self._host.power_on(self.spec(inst)))

    async def _after_failure(self, inst: Instance) -> None:
        """What the MIG does about a member that went down outside it."""
        if self.migs[(inst.zone, inst.mig)].action_on_failure == "REPAIR":
            await self._repair(inst)
        elif not inst.exists:
            await self._host_call(inst, "remove", lambda: self._host.remove(inst.name))

    async def _repair(self, inst: Instance) -> None:
        inst.current_action = "RECREATING"
        await asyncio.sleep(self.profile.mig_recreate_delay)
        op = self.operations.begin(inst.zone, "compute.instances.repair.recreateInstance",
                                   self.path(inst.zone, "instances", inst.name), inst.id,
                                   user=SYSTEM)
        inst.id = self._new_id()
        inst.created = time.time()
        inst.exists = True
        inst.preempted = False
        inst.last_start = inst.last_stop = None
        self._record(inst, "recreated")
        try:
            await self._boot(inst, op)
        finally:
            self.operations.finish(op)

    # ----- plumbing

    def _begin(self, inst: Instance, method: str) -> Operation:
        return self.operations.begin(inst.zone, f"compute.instances.{method}",
                                     self.path(inst.zone, "instances", inst.name), inst.id)

    def _busy(self, inst: Instance) -> bool:
        task = self._tasks.get(inst.name)
        return task is not None and not task.done()

    def _run(self, inst: Instance, flow: Awaitable[None], op: Operation | None = None) -> None:
        """Make `flow` the VM's one lifecycle task, cancelling the one it supersedes.

        Flows finish `op` when the VM reaches the state it asked for; if the task ends first
        (superseded or cancelled), `op` fails, so no caller polls it forever.
        """
        previous = self._tasks.get(inst.name)
        if previous is not None and not previous.done():
            previous.cancel()
        task = asyncio.ensure_future(flow)
        if op is not None:
            task.add_done_callback(lambda t: self._settle(op, t))
        self._tasks[inst.name] = task

    def _settle(self, op: Operation, task: asyncio.Task[None]) -> None:
        """Fail an operation whose flow ended before finishing it, saying why."""
        if op.status == "DONE":
            return
        why = ("it was superseded by a later call on the same instance" if task.cancelled()
               else f"the lab failed: {task.exception()!r}")
        self.operations.finish(op, OperationError(
            400, "RESOURCE_NOT_READY", f"{op.operation_type} on {op.target} did not "
            f"complete: {why}"))

    async def _host_call(self, inst: Instance, what: str,
                         call: Callable[[], Awaitable[None]]) -> None:
        """Call the NodeHost; its failure must not wedge the VM, so it is logged and recorded."""
        try:
            await asyncio.wait_for(call(), HOST_CALL_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("node host %s(%s) failed", what, inst.name)
            self._record(inst, f"host_error: {what}: {exc!r}")

    def _record(self, inst: Instance, event: str) -> None:
        self._history[inst.name].append(HistoryEvent(time.time(), event, inst.id))

    def _new_id(self) -> int:
        return self._rng.randrange(10**18, 10**19)
