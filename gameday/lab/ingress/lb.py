"""The load balancer as one object: pool + health checks + proxy + admin, fed `LbConfig`s.

The watcher (or a test) calls `apply(config)` on the event loop whenever the cluster changes;
everything else follows from it. Kept free of Kubernetes so tests drive it with plain configs
and real loopback backends.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from gameday.errors import LabError
from gameday.lab.ingress.admin import admin_app
from gameday.lab.ingress.metrics import LbMetrics
from gameday.lab.ingress.pool import BackendPool, PoolChange
from gameday.lab.ingress.prober import Prober
from gameday.lab.ingress.proxy import Proxy
from gameday.lab.ingress.translate import LbConfig


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` -> (host, port); only loopback hosts, as the lab's network rule demands."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not (host == "localhost" or host.startswith("127.")):
        raise LabError(f"listen address {text!r} must be 127.x.y.z:PORT (loopback only)")
    return host, int(port)


class LoadBalancer:
    """A GCLB-like HTTP load balancer serving on `listen`, admin on `admin_listen`."""

    def __init__(self, listen: str, admin_listen: str, detach_delay_s: float = 0.0) -> None:
        self.listen = parse_listen(listen)
        self.admin_listen = parse_listen(admin_listen)
        self.pool = BackendPool(detach_delay_s)
        self.metrics = LbMetrics()
        self.prober = Prober(self.pool, self.metrics)
        self.proxy = Proxy(self.pool, self.metrics)
        self.synced = False
        self._runners: list[web.AppRunner] = []
        self._expiry: asyncio.Task | None = None

    async def start(self) -> None:
        """Bind both servers; raises LabError if a port is taken."""
        await self.prober.start()
        await self.proxy.start()
        self._expiry = asyncio.create_task(self._expire_detached(), name="neg detach")
        apps = ((self.proxy.app(), self.listen),
                (admin_app(self.pool, self.metrics, lambda: self.synced), self.admin_listen))
        for app, (host, port) in apps:
            runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                   shutdown_timeout=2.0)
            await runner.setup()
            self._runners.append(runner)
            try:
                await web.TCPSite(runner, host, port, backlog=1024).start()
            except OSError as exc:
                await self.stop()
                raise LabError(f"ingress load balancer cannot listen on {host}:{port}: {exc}; "
                               "stop whatever holds the port or choose another") from exc

    @property
    def ports(self) -> tuple[int, int]:
        """Bound (proxy, admin) ports; useful when started on port 0."""
        proxy, admin = (runner.addresses[0][1] for runner in self._runners)
        return proxy, admin

    def apply(self, config: LbConfig, *, synced: bool = True) -> None:
        """Install a new configuration; must run on the event loop."""
        self._follow(self.pool.apply(config))
        self.synced = self.synced or synced

    def _follow(self, change: PoolChange) -> None:
        for service, address in change.removed:
            self.metrics.forget_endpoint(service, address)
        for service, address in change.added:
            self.metrics.track_endpoint(service, address)
        self.prober.update(change)

    async def _expire_detached(self) -> None:
        """Finish NEG detaches whose delay ran out (a no-op without a detach delay)."""
        while True:
            await asyncio.sleep(0.1)
            change = self.pool.expire(time.monotonic())
            if change.removed:
                self._follow(change)

    async def stop(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        await self.prober.close()
        await self.proxy.close()
