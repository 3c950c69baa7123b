"""The admin server: what Prometheus scrapes and what tests and `lab status` look at.

- /metrics         Prometheus text format (see metrics.py)
- /healthz         200 once the first full view of the cluster is applied, 503 before: `lab up`
                   waits on it so a scenario never starts against an empty URL map
- /debug/backends  JSON: backend services, endpoints with health state, last check, consecutive
                   counts, effective health-check settings, routes and configuration problems
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from gameday.lab.ingress.metrics import LbMetrics
from gameday.lab.ingress.pool import BackendPool


def admin_app(pool: BackendPool, metrics: LbMetrics, synced: Callable[[], bool]) -> web.Application:
    """Build the admin application over the live pool and metrics."""

    async def get_metrics(_: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        if synced():
            return web.Response(text="ok\n")
        return web.Response(status=503, text="waiting for the first sync with the apiserver\n")

    async def debug_backends(_: web.Request) -> web.Response:
        return web.json_response(pool.as_dict())

    app = web.Application()
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/debug/backends", debug_backends)
    return app
