"""Active health checks: one asyncio task per (backend service, endpoint), as GCLB probes.

Each task checks at once when the endpoint attaches (so a new backend gets traffic after one
interval at most), then every `interval_s` measured from the start of the previous check. The
interval is re-read while waiting: a BackendConfig edit wakes the waiting tasks of that backend
service, so the next check is due `new interval` after the previous one, not after the old one.
A check is an HTTP GET of the request path that must answer 200 within the timeout, on a fresh
connection (no keep-alive), so a killed backend is noticed by its refused connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import aiohttp

from gameday.lab.ingress.healthcheck import CheckResult, HealthCheckSettings
from gameday.lab.ingress.metrics import LbMetrics
from gameday.lab.ingress.pool import BackendPool, PoolChange
from gameday.lab.ingress.translate import EndpointSpec

log = logging.getLogger(__name__)
USER_AGENT = "GoogleHC/1.0"


async def probe(session: aiohttp.ClientSession, endpoint: EndpointSpec,
                settings: HealthCheckSettings) -> CheckResult:
    """One health-check request; only HTTP 200 within the timeout is a success."""
    scheme = "http" if settings.type == "HTTP" else "https"
    url = f"{scheme}://{endpoint.ip}:{settings.port or endpoint.port}{settings.request_path}"
    timeout = aiohttp.ClientTimeout(total=settings.effective_timeout_s)
    try:
        async with session.get(url, timeout=timeout, allow_redirects=False, ssl=False,
                               headers={"User-Agent": USER_AGENT}) as resp:
            await resp.read()
            return CheckResult.SUCCESS if resp.status == 200 else CheckResult.FAILURE
    except TimeoutError:
        return CheckResult.TIMEOUT
    except (aiohttp.ClientError, OSError):
        return CheckResult.FAILURE


class Prober:
    """Owns the health-check tasks and keeps them in step with the pool."""

    def __init__(self, pool: BackendPool, metrics: LbMetrics) -> None:
        self.pool = pool
        self.metrics = metrics
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._wakeups: dict[str, asyncio.Event] = {}
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True, limit=0))

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()

    def update(self, change: PoolChange) -> None:
        """Start, stop and wake tasks after `BackendPool.apply`."""
        for key in change.removed:
            task = self._tasks.pop(key, None)
            if task is not None:
                task.cancel()
        for service in change.settings_changed:
            self._wake(service)
        for key in change.added:
            self._tasks[key] = asyncio.create_task(self._run(*key), name=f"hc {key}")

    def _wake(self, service: str) -> None:
        event = self._wakeups.pop(service, None)
        if event is not None:
            event.set()

    async def _wait_next(self, service: str, started: float) -> None:
        """Sleep until `started + interval`, re-reading the interval when settings change."""
        loop = asyncio.get_running_loop()
        while (settings := self.pool.settings(service)) is not None:
            remaining = started + settings.interval_s - loop.time()
            if remaining <= 0:
                return
            event = self._wakeups.setdefault(service, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def _run(self, service: str, address: str) -> None:
        assert self._session is not None, "Prober.start() must run before update()"
        loop = asyncio.get_running_loop()
        while True:
            state = self.pool.endpoint(service, address)
            settings = self.pool.settings(service)
            if state is None or settings is None:
                return
            started = loop.time()
            result = await probe(self._session, state.spec, settings)
            changed = self.pool.record(service, address, result, time.time())
            if changed is None:
                return
            self.metrics.observe_check(service, address, result, state.health.serving)
            if changed:
                log.info("backend %s endpoint %s is now %s (%s)", service, address,
                         state.health.state, result)
            await self._wait_next(service, started)
