"""A testing kit: real HTTP backends on loopback whose health and liveness a test controls.

Used by the unit tests and by bench/ingress_throughput.py; shipped with the package (as kopf
ships its testing kit) so scenario authors can test their own checks against the proxy.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from gameday.lab.ingress.healthcheck import HealthCheckSettings
from gameday.lab.ingress.translate import BackendServiceSpec, EndpointSpec, LbConfig
from gameday.lab.ingress.urlmap import Route, UrlMap


class LoopbackBackend:
    """An aiohttp server answering `name` on every path; `/healthz` follows `healthy`."""

    def __init__(self, name: str, host: str = "127.0.0.1", *, healthy: bool = True,
                 delay_s: float = 0.0) -> None:
        self.name = name
        self.host = host
        self.port = 0
        self.healthy = healthy
        self.delay_s = delay_s  # how long each non-health request hangs
        self.requests = 0
        self._runner: web.AppRunner | None = None

    async def _health(self, _: web.Request) -> web.Response:
        return web.Response(status=200 if self.healthy else 503, text="ok")

    async def _serve(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return web.Response(text=self.name, headers={"X-Backend": self.name,
                                                     "X-Seen-Host": request.host})

    async def start(self) -> LoopbackBackend:
        app = web.Application()
        app.router.add_get("/healthz", self._health)
        app.router.add_route("*", "/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Close the listener and every connection: the backend is dead (refuses)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def endpoint(self) -> EndpointSpec:
        return EndpointSpec(self.host, self.port, pod=f"default/{self.name}")


def single_service_config(backends: list[LoopbackBackend], settings: HealthCheckSettings, *,
                          name: str = "default/web:80", timeout_s: float = 30.0) -> LbConfig:
    """An LbConfig routing every request to one backend service made of `backends`."""
    spec = BackendServiceSpec(name, tuple(b.endpoint for b in backends), settings, timeout_s)
    return LbConfig(UrlMap((Route("", "/", "Prefix", name, "default/web"),)), {name: spec})
