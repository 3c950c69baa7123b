"""A testing kit: API-shaped objects and an exporter served from fixed data on loopback.

Lets tests (ours, and scenario authors' checks of their PromQL) run the real HTTP side of the
exporter, and a real Prometheus scraping it, without an apiserver: the store is fed exactly what
the watches would deliver.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from gameday.errors import LabError
from gameday.lab.kubestate.server import build_app
from gameday.lab.kubestate.store import RESOURCES, ClusterStore

Obj = dict[str, Any]
CREATED = "2024-05-01T10:00:00Z"


def node_obj(name: str, zone: str, *, ready: str = "True", unschedulable: bool = False,
             taints: list[Obj] | None = None, ip: str = "127.0.0.10") -> Obj:
    """A Node as a GKE node pool creates it (labels trimmed to the ones queries use)."""
    return {
        "metadata": {"name": name, "uid": f"uid-{name}", "creationTimestamp": CREATED,
                     "labels": {"topology.kubernetes.io/zone": zone,
                                "cloud.google.com/gke-nodepool": "default-pool",
                                "kubernetes.io/hostname": name}},
        "spec": {"providerID": f"gce://lab/{zone}/{name}", "unschedulable": unschedulable,
                 "taints": taints or []},
        "status": {"conditions": [{"type": "Ready", "status": ready}],
                   "addresses": [{"type": "InternalIP", "address": ip}],
                   "nodeInfo": {"kubeletVersion": "v1.20.2", "osImage": "gameday hollow node"}},
    }


def pod_obj(name: str, node: str, ip: str | None, *, namespace: str = "gameday-demo",
            ready: str = "True", phase: str = "Running", restarts: int = 0,
            annotations: dict[str, str] | None = None, owner: str | None = "web-5d9f") -> Obj:
    """A Deployment's pod as the hollow node reports it."""
    meta: Obj = {"name": name, "namespace": namespace, "uid": f"uid-{name}",
                 "creationTimestamp": CREATED, "labels": {"app": "web"},
                 "annotations": annotations if annotations is not None else {
                     "prometheus.io/scrape": "true", "prometheus.io/port": "8080"}}
    if owner:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner, "controller": True}]
    status: Obj = {"phase": phase, "hostIP": "127.0.0.10",
                   "conditions": [{"type": "Ready", "status": ready}],
                   "containerStatuses": [{"name": "web", "ready": ready == "True",
                                          "restartCount": restarts}]}
    if ip:
        status["podIP"] = ip
    return {"metadata": meta, "spec": {"nodeName": node, "containers": [{"name": "web"}]},
            "status": status}


def deployment_obj(name: str, replicas: int, ready: int, *,
                   namespace: str = "gameday-demo") -> Obj:
    """A Deployment whose status says `ready` of `replicas` are ready and available."""
    status = {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready,
              "updatedReplicas": replicas, "observedGeneration": 1}
    if replicas > ready:
        status["unavailableReplicas"] = replicas - ready
    return {"metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}",
                         "generation": 1},
            "spec": {"replicas": replicas}, "status": status}


def fixed_store(nodes: list[Obj], pods: list[Obj], deployments: list[Obj]) -> ClusterStore:
    """A synced store holding exactly these objects, as if just listed."""
    store = ClusterStore()
    for resource, items in zip(RESOURCES, (nodes, pods, deployments), strict=True):
        store.on_event(resource, "SYNC", items)
    return store


@contextmanager
def serve_store(store: ClusterStore, host: str = "127.0.0.1",
                timeout_s: float = 10) -> Iterator[str]:
    """Serve the exporter's HTTP side for `store` in a thread; yields its base URL.

    The store belongs to the serving loop from then on (it has no lock): change data by
    serving a new store, not by mutating this one."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner = web.AppRunner(build_app(store), access_log=None, handle_signals=False,
                           shutdown_timeout=0.1)
    address: list[str] = []
    failure: list[BaseException] = []

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, host, 0).start()
        address.append(f"http://{host}:{runner.addresses[0][1]}")

    def run() -> None:
        try:
            loop.run_until_complete(start())
        except OSError as exc:
            failure.append(exc)
            return
        finally:
            started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="kubestate-testing", daemon=True)
    thread.start()
    if not started.wait(timeout_s) or failure:
        reason = failure[0] if failure else "timed out"
        raise LabError(f"the test exporter could not listen on {host} within {timeout_s}s: "
                       f"{reason}")
    try:
        yield address[0]
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout_s)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout_s)
        loop.close()
