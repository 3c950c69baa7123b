"""The exporter's HTTP side and its watches: /metrics, /sd/pods, /healthz, /readyz.

`/metrics` and `/sd/pods` answer 503 until every resource has been listed once: a partial cache
would tell Prometheus that pods or nodes vanished, and an SLO computed from that would be wrong
rather than inconclusive. `/readyz` says the same, so `lab up` can wait for it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from functools import partial

from aiohttp import web
from kubernetes import client

from gameday.lab.kubestate.exposition import CONTENT_TYPE
from gameday.lab.kubestate.store import RESOURCES, ClusterStore
from gameday.lab.kubewatch import Reflector

log = logging.getLogger(__name__)

NOT_SYNCED = "cluster cache not synced yet (listing nodes, pods, deployments)\n"


def build_app(store: ClusterStore) -> web.Application:
    """The aiohttp application serving one store (fed by watches, or by a test)."""

    def gated(body: Callable[[], bytes], content_type: str) -> web.Response:
        if not store.synced:
            return web.Response(status=503, text=NOT_SYNCED)
        return web.Response(body=body(), headers={"Content-Type": content_type})

    async def metrics(request: web.Request) -> web.Response:
        return gated(store.metrics_text, CONTENT_TYPE)

    async def sd_pods(request: web.Request) -> web.Response:
        return gated(store.pod_targets_json, "application/json")

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(request: web.Request) -> web.Response:
        return gated(lambda: b"ok\n", "text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/sd/pods", sd_pods)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


class ClusterWatch:
    """One reflector thread per resource, feeding a store on the running event loop."""

    def __init__(self, api: client.ApiClient, store: ClusterStore) -> None:
        self.api = api
        self.store = store
        self.stop_event = threading.Event()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        core, apps = client.CoreV1Api(self.api), client.AppsV1Api(self.api)
        list_fns = {"nodes": core.list_node, "pods": core.list_pod_for_all_namespaces,
                    "deployments": apps.list_deployment_for_all_namespaces}
        for name in RESOURCES:
            Reflector(name, list_fns[name], loop, partial(self.store.on_event, name),
                      self.stop_event).start()

    def stop(self) -> None:
        """Ask the daemon threads to end; each is blocked at most one bounded watch round."""
        self.stop_event.set()
