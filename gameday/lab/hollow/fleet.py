"""All hollow nodes of the lab in one asyncio process, fed by a single pod watch.

One watch over every pod (instead of one per node, as real kubelets do) is what lets a hundred
nodes and a thousand pods run under one core. The fleet is the NodeHost the compute model drives.

A node whose VPC firewall cuts it off from the apiserver (a zone partition) loses what a real
kubelet loses: its requests fail (KubeRest.behind) and it hears no pod events, since the shared
watch stands for its own; its pods' processes keep running. When the cut heals, it catches up
as a kubelet's re-list does: every pod bound to it is replayed, and what was deleted meanwhile
is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from gameday.lab.hollow.host import NodeNetwork, NodeSpec
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
        self._network: NodeNetwork | None = None
        self.cut_off: dict[str, str] = {}  # node -> why it cannot reach the apiserver

    def attach_network(self, network: NodeNetwork) -> None:
        """Follow the VPC's firewall from now on (labd attaches the compute model's)."""
        self._network = network
        network.subscribe(self._network_changed)

    def _network_changed(self) -> None:
        """Recompute which nodes reach the apiserver; a healed node catches up."""
        if self._network is None:
            return
        api = urlsplit(self.kube.server)
        for name, node in self.nodes.items():
            why = self._network.blocked(node.spec.internal_ip, api.hostname or "",
                                        api.port or 443)
            was = self.cut_off.pop(name, None)
            if why:
                self.cut_off[name] = why
                if was is None:
                    self.record("node.partitioned", {"node": name, "why": why})
            elif was is not None:
                self.record("node.reconnected", {"node": name})
                self._catch_up(node)

    def _catch_up(self, node: HollowNode) -> None:
        """What the node missed while cut off: the pods bound to it now, and the end of those
        deleted meanwhile (a kubelet's re-list after its watch broke)."""
        name = node.spec.name
        for key, pod in list(self.pods.items()):
            if pod["spec"].get("nodeName") == name:
                self.spawn(self._handle(node, "MODIFIED", key, pod))
        for key, runner in list(node.pods.items()):
            if self.pods.get(key, {}).get("metadata", {}).get("uid") != runner.uid:
                self.spawn(self._handle(node, "DELETED", key, runner.pod))

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
        if node is not None and node_name not in self.cut_off:
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
        kube = self.kube.behind(lambda: self.cut_off.get(spec.name))
        return NodeContext(spec.name, spec.internal_ip, kube, self._http,
                           self.log_dir / spec.name, self.record, self.spawn)

    # NodeHost protocol ---------------------------------------------------------------------
    async def power_on(self, spec: NodeSpec) -> None:
        node = self.nodes.get(spec.name)
        if node is None:
            node = self.nodes[spec.name] = HollowNode(spec, self._context(spec), self.profile)
        elif node.powered:
            return
        self._network_changed()  # a VM (re)created inside a partition boots cut off
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
                 "internal_ip": n.spec.internal_ip, "pods": sorted(n.pods),
                 "cut_off": self.cut_off.get(n.spec.name)}
                for n in self.nodes.values()]
