"""A testing kit: the compute endpoint on a loopback port in a thread, and a NodeHost that records.

Why shipped with the package: the endpoint is driven by the *synchronous* google-cloud-compute
client, which must not run inside the model's event loop; tests here and labd's own tests need
the same "loop in a thread, real HTTP on 127.0.0.1" harness, and a host that shows which power
calls the model made and when.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from aiohttp import web
from google.api_core import retry as retries
from google.api_core.future.polling import POLLING_PREDICATE
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1

from gameday.errors import ConditionTimeout
from gameday.lab.compute.api import add_routes
from gameday.lab.compute.layout import ClusterLayout
from gameday.lab.compute.model import ComputeModel, HistoryEvent
from gameday.lab.hollow.host import NodeSpec
from gameday.lab.profiles import Profile

T = TypeVar("T")

# `.result(polling=QUICK_POLLING)`: the client's default first waits 1 s between polls.
QUICK_POLLING = retries.Retry(predicate=POLLING_PREDICATE, initial=0.05, maximum=0.2,
                              multiplier=1.5, timeout=10)


def quick_profile(base: Profile, **overrides: float) -> Profile:
    """`base` with VM timings short enough for unit tests (tenths of a second)."""
    quick = {"vm_boot": 0.1, "vm_stop": 0.3, "preemption_notice": 0.4,
             "mig_recreate_delay": 0.3}
    return replace(base, **{**quick, **overrides})


def bind_operations(client: Any, operations: compute_v1.ZoneOperationsClient) -> None:
    """Make `client`'s ExtendedOperation.result() poll `operations`, not Google.

    google-cloud-compute 1.57 builds the ZoneOperationsClient its `.result()` polls lazily with
    the default endpoint (transports/base.py `_zone_operations_client`), ignoring the caller's
    `api_endpoint`: against the lab, every poll of an unfinished operation would go to
    compute.googleapis.com. Pre-seeding the transport's cache is the only hook it offers.
    """
    client._transport._extended_operations_services["zone_operations"] = operations


@dataclass(frozen=True)
class Clients:
    """The real google-cloud-compute clients, pointed at the lab endpoint."""

    instances: compute_v1.InstancesClient
    operations: compute_v1.ZoneOperationsClient
    migs: compute_v1.InstanceGroupManagersClient
    zones: compute_v1.ZonesClient
    regions: compute_v1.RegionsClient


@dataclass(frozen=True)
class HostCall:
    """One call the model made on the host."""

    at: float
    method: str  # power_on, power_off, remove
    name: str
    graceful: bool | None = None
    spec: NodeSpec | None = None


@dataclass
class RecordingHost:
    """A NodeHost that records calls; a graceful power off takes `graceful_off_s`."""

    graceful_off_s: float = 0.0
    calls: list[HostCall] = field(default_factory=list)

    async def power_on(self, spec: NodeSpec) -> None:
        self.calls.append(HostCall(time.time(), "power_on", spec.name, spec=spec))

    async def power_off(self, name: str, *, graceful: bool) -> None:
        self.calls.append(HostCall(time.time(), "power_off", name, graceful=graceful))
        if graceful:
            await asyncio.sleep(self.graceful_off_s)

    async def remove(self, name: str) -> None:
        self.calls.append(HostCall(time.time(), "remove", name))

    def of(self, name: str) -> list[HostCall]:
        """The calls about one node, oldest first."""
        return [c for c in list(self.calls) if c.name == name]


class RunningCompute:
    """The endpoint served from a private event loop in a daemon thread."""

    def __init__(self, model: ComputeModel, loop: asyncio.AbstractEventLoop, port: int) -> None:
        self.model = model
        self.loop = loop
        self.endpoint = f"http://127.0.0.1:{port}"

    def clients(self) -> Clients:
        """Fresh clients, anonymous, on this endpoint (as a game day would build them)."""
        kw: dict[str, Any] = {"credentials": AnonymousCredentials(),
                              "client_options": {"api_endpoint": self.endpoint}}
        operations = compute_v1.ZoneOperationsClient(**kw)
        instances = compute_v1.InstancesClient(**kw)
        migs = compute_v1.InstanceGroupManagersClient(**kw)
        for client in (instances, migs):
            bind_operations(client, operations)
        return Clients(instances, operations, migs, compute_v1.ZonesClient(**kw),
                       compute_v1.RegionsClient(**kw))

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run a coroutine in the model's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run a plain function in the model's loop (the model is not thread-safe)."""
        async def in_loop() -> T:
            return fn()
        return self.run(in_loop(), timeout)

    def history(self, name: str) -> list[HistoryEvent]:
        """The VM slot's ground-truth history."""
        return self.call(lambda: self.model.history(name))

    def wait_for_event(self, name: str, event: str, *, after: int = 0,
                       timeout: float = 10.0) -> HistoryEvent:
        """Block until history entry number >= `after` of `name` is `event`; return it."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.history(name)
            for entry in seen[after:]:
                if entry.event == event:
                    return entry
            if time.monotonic() > deadline:
                raise ConditionTimeout(f"event {event!r} on {name}", timeout,
                                       [e.event for e in seen])
            time.sleep(0.02)


@contextmanager
def serve(layout: ClusterLayout, host: RecordingHost, profile: Profile, *,
          seed: int = 1, start_timeout: float = 10.0) -> Iterator[RunningCompute]:
    """Serve a booted model on 127.0.0.1:<free port>; everything is stopped on exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="compute-lab", daemon=True)
    thread.start()

    async def up() -> tuple[ComputeModel, web.AppRunner, int]:
        model = ComputeModel(layout, host, profile, seed=seed, wait_cap=5.0)
        app = web.Application()
        add_routes(app, model)
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            await model.start(timeout=start_timeout)
        except BaseException:
            await model.close()
            await runner.cleanup()
            raise
        return model, runner, runner.addresses[0][1]

    running: RunningCompute | None = None
    try:
        model, runner, port = asyncio.run_coroutine_threadsafe(up(), loop).result(
            start_timeout + 5)
        running = RunningCompute(model, loop, port)
        yield running
    finally:
        if running is not None:
            running.run(running.model.close())
            running.run(runner.cleanup())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
