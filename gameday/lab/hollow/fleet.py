"""All hollow nodes of the lab in one asyncio process, fed by a single pod watch.

One watch over every pod (instead of one per node, as real kubelets do) is what lets a hundred
nodes and a thousand pods run under one core. The fleet is the NodeHost the compute model drives.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import aiohttp

from gameday.lab.hollow.host import NodeSpec
from gameday.lab.hollow.kuberest import KubeRest
from gameday.lab.hollow.node import HollowNode
from gameday.lab.hollow.pods import NodeContext
from gameday.lab.profiles import Profile

HISTORY = 20_000  # ground-truth events kept in memory for tests and reports


class HollowFleet:
    """Implements gameday.lab.hollow.host.NodeHost for every node of the lab."""

    def __init__(self, kube: KubeRest, profile: Profile, log_dir: Path) -> None:
        self.kube = kube
        self.profile = profile
        self.log_dir = log_dir
        self.nodes: dict[str, HollowNode] = {}
        self.pods: dict[str, dict] = {}  # key -> latest pod object bound to some node
        self.events: deque[dict] = deque(maxlen=HISTORY)
        self._stop = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None
        self._watch: asyncio.Task | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self.synced = asyncio.Event()
        self._background: set[asyncio.Task] = set()

    def record(self, kind: str, data: dict) -> None:
        """Ground truth with wall-clock time: what happened, when, as the lab saw it."""
        self.events.append({"ts": time.time(), "kind": kind, **data})

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        self._watch = asyncio.create_task(self._watch_pods(), name="pod watch")

    async def close(self) -> None:
        self._stop.set()
        if self._watch:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for node in self.nodes.values():
            await node.power_off(graceful=False)
        if self._http:
            await self._http.close()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run in the background, holding a reference until done (asyncio keeps weak ones)."""
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _lock(self, key: str) -> asyncio.Lock:
        """Pod events for one pod are handled in order; different pods run concurrently."""
        return self._locks.setdefault(key, asyncio.Lock())

    async def _watch_pods(self) -> None:
        async for kind, pod in self.kube.watch("/api/v1/pods", self._stop):
            if kind == "SYNCED":
                live = {f"{p['metadata']['namespace']}/{p['metadata']['name']}"
                        for p in pod["items"]}
                for key in [k for k in self.pods if k not in live]:
                    await self._dispatch("DELETED", self.pods[key])
                self.synced.set()
                continue
            await self._dispatch(kind, pod)

    async def _dispatch(self, kind: str, pod: dict) -> None:
        node_name = pod["spec"].get("nodeName")
        if not node_name:
            return
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        if kind == "DELETED":
            self.pods.pop(key, None)
        else:
            self.pods[key] = pod
        node = self.nodes.get(node_name)
        if node is not None:
            self.spawn(self._handle(node, kind, key, pod))

    async def _handle(self, node: HollowNode, kind: str, key: str, pod: dict) -> None:
        async with self._lock(key):
            try:
                await node.on_pod(kind, pod)
            except Exception as exc:  # one bad pod must not stop the node; keep the evidence
                self.record("pod.error", {"pod": key, "error": repr(exc)})
            if kind == "DELETED":
                self._locks.pop(key, None)

    def _context(self, spec: NodeSpec) -> NodeContext:
        assert self._http is not None, "fleet not started"
        return NodeContext(spec.name, spec.internal_ip, self.kube, self._http,
                           self.log_dir / spec.name, self.record, self.spawn)

    # NodeHost protocol ---------------------------------------------------------------------
    async def power_on(self, spec: NodeSpec) -> None:
        node = self.nodes.get(spec.name)
        if node is None:
            node = self.nodes[spec.name] = HollowNode(spec, self._context(spec), self.profile)
        elif node.powered:
            return
        await node.power_on(spec)
        for key, pod in list(self.pods.items()):
            if pod["spec"].get("nodeName") == spec.name:
                self.spawn(self._handle(node, "MODIFIED", key, pod))

    async def power_off(self, name: str, *, graceful: bool) -> None:
        node = self.nodes.get(name)
        if node is not None:
            await node.power_off(graceful)

    async def remove(self, name: str) -> None:
        node = self.nodes.pop(name, None)
        if node is not None:
            await node.remove()

    def describe(self) -> list[dict]:
        """Per-node view for the control endpoint and `lab status`."""
        return [{"name": n.spec.name, "zone": n.spec.zone, "pool": n.spec.pool,
                 "provisioning": n.spec.provisioning, "powered": n.powered,
                 "boot_id": n.boot_id, "instance_id": n.spec.instance_id,
                 "internal_ip": n.spec.internal_ip, "pods": sorted(n.pods)}
                for n in self.nodes.values()]
