"""labd's control endpoint: power hollow nodes off and on, read ground truth, expose metrics.

Powering off here acts on the guest (a kernel panic or a pulled plug): the simulated cloud is
not told, so no MIG repairs it. Cloud-level faults go through the Compute Engine endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from gameday.lab.hollow.fleet import HollowFleet

MODES = ("abrupt", "graceful")


class FleetCollector(Collector):
    """Computed at scrape time from the fleet, so the numbers are never stale."""

    def __init__(self, fleet: HollowFleet) -> None:
        self.fleet = fleet

    def collect(self) -> Iterator[Metric]:
        powered = GaugeMetricFamily("gameday_lab_node_powered", "1 while the node's VM runs",
                                    labels=["node", "zone", "pool"])
        pods = GaugeMetricFamily("gameday_lab_node_pods", "pods running on the node",
                                 labels=["node", "zone"])
        ready = GaugeMetricFamily("gameday_lab_node_pods_ready", "ready pods on the node",
                                  labels=["node", "zone"])
        for node in self.fleet.nodes.values():
            spec = node.spec
            powered.add_metric([spec.name, spec.zone, spec.pool], 1.0 if node.powered else 0.0)
            pods.add_metric([spec.name, spec.zone], len(node.pods))
            ready.add_metric([spec.name, spec.zone],
                             sum(1 for r in node.pods.values() if r.ready))
        yield from (powered, pods, ready)


def add_routes(app: web.Application, fleet: HollowFleet, registry: CollectorRegistry) -> None:
    """Mount /lab/... control routes and /metrics on labd's server."""
    registry.register(FleetCollector(fleet))

    async def nodes(_: web.Request) -> web.Response:
        return web.json_response({"nodes": fleet.describe()})

    def _node(request: web.Request) -> str:
        name = request.match_info["name"]
        if name not in fleet.nodes:
            raise web.HTTPNotFound(text=f"no hollow node named {name!r}; known: "
                                        f"{', '.join(sorted(fleet.nodes))}")
        return name

    async def power_off(request: web.Request) -> web.Response:
        name = _node(request)
        mode = request.query.get("mode", "abrupt")
        if mode not in MODES:
            raise web.HTTPBadRequest(text=f"mode must be one of {', '.join(MODES)}")
        await fleet.power_off(name, graceful=mode == "graceful")
        return web.json_response({"node": name, "powered": False, "mode": mode})

    async def power_on(request: web.Request) -> web.Response:
        name = _node(request)
        await fleet.power_on(fleet.nodes[name].spec)
        return web.json_response({"node": name, "powered": True,
                                  "boot_id": fleet.nodes[name].boot_id})

    async def events(request: web.Request) -> web.Response:
        since = float(request.query.get("since", "0"))
        return web.json_response({"events": [e for e in fleet.events if e["ts"] >= since]})

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry),
                            headers={"Content-Type": "text/plain; version=0.0.4"})

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok" if fleet.synced.is_set() else "syncing",
                            status=200 if fleet.synced.is_set() else 503)

    app.router.add_get("/lab/nodes", nodes)
    app.router.add_post("/lab/nodes/{name}/power-off", power_off)
    app.router.add_post("/lab/nodes/{name}/power-on", power_on)
    app.router.add_get("/lab/events", events)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
