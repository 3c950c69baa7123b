"""A testing kit for SLOs: a real Prometheus on loopback, an exporter you drive, and a replayer.

Why shipped with the package: SLO math is only worth testing against what Prometheus really
answers (its range-selector bounds, its error texts), yet a live Prometheus needs real seconds
to scrape. So tests record the real answers once (`PromReplay(upstream=...)` proxies and keeps
every exchange) and replay them (`PromReplay(exchanges)`) over real HTTP on 127.0.0.1, through
the real client. The replayer also keeps each request's headers, for the auth-header tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from gameday.errors import LabError
from gameday.lab.procs import terminate
from gameday.lab.waits import free_port, http_ok, until
from gameday.load import metrics

PROMETHEUS = "/usr/bin/prometheus"


@contextlib.contextmanager
def run_prometheus(workdir: Path, targets: list[str], *, job: str = "gameday-load",
                   scrape_interval: str = "1s", timeout_s: float = 15.0) -> Iterator[str]:
    """A real Prometheus on a free 127.0.0.1 port scraping `targets` ("127.0.0.1:PORT") as
    `job`; yields its URL and stops it (SIGTERM, then SIGKILL after 5 s) on exit."""
    if shutil.which(PROMETHEUS) is None:
        raise LabError(f"{PROMETHEUS} not found: install Debian's `prometheus` package")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(json.dumps({
        "global": {"scrape_interval": scrape_interval, "scrape_timeout": scrape_interval},
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": targets}]}],
    }))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (workdir / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        until(f"Prometheus ready at {url}", lambda: proc.poll() is None and
              http_ok(f"{url}/-/ready", timeout_s=1.0), timeout_s)
        yield url
    finally:
        terminate(proc, 5)
        log.close()


class DrivenExporter:
    """The load generator's metrics (team-agreed names), incremented by the test itself."""

    RUN = "driven"  # the exporter's run label, which the load SLOs select on

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(metrics.REQUESTS, "requests", ("method", "name", "code",
                                "code_class", metrics.RUN_LABEL), registry=self.registry)
        self.duration = Histogram(metrics.DURATION, "durations",
                                  ("method", "name", metrics.RUN_LABEL),
                                  buckets=metrics.BUCKETS, registry=self.registry)
        self.port = free_port()
        self._server, _thread = start_http_server(self.port, addr="127.0.0.1",
                                                  registry=self.registry)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def request(self, code: int, duration_s: float, n: int = 1, name: str = "/") -> None:
        """Count `n` requests answered `code` (0: no answer) after `duration_s` each."""
        code_class = f"{code // 100}xx" if code else "error"
        self.requests.labels("GET", name, str(code), code_class, self.RUN).inc(n)
        for _ in range(n):
            self.duration.labels("GET", name, self.RUN).observe(duration_s)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass(frozen=True)
class Exchange:
    """One recorded request to the Prometheus API and its answer."""

    path: str
    params: dict[str, str]
    status: int
    body: Any

    @staticmethod
    def load(path: Path) -> list[Exchange]:
        return [Exchange(**e) for e in json.loads(path.read_text())["exchanges"]]


@dataclass(frozen=True)
class Seen:
    """A request the replayer received: what tests assert headers on."""

    path: str
    params: dict[str, str]
    headers: dict[str, str]


class PromReplay:
    """Serves recorded exchanges on 127.0.0.1, or with `upstream` proxies and records them.

    An unrecorded request gets HTTP 500 with a Prometheus-style error naming it, so a test
    whose queries changed fails with the query in its message.
    """

    def __init__(self, exchanges: list[Exchange] | None = None, *,
                 upstream: str | None = None) -> None:
        self.upstream = upstream
        self.exchanges: list[Exchange] = list(exchanges or [])
        self.seen: list[Seen] = []
        self._answers = {(e.path, _key(e.params)): e for e in self.exchanges}
        self.url = ""

    @contextlib.contextmanager
    def serve(self) -> Iterator[str]:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="prom-replay", daemon=True)
        thread.start()
        port = free_port()

        async def up() -> web.AppRunner:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            return runner

        runner = asyncio.run_coroutine_threadsafe(up(), loop).result(10)
        self.url = f"http://127.0.0.1:{port}"
        try:
            yield self.url
        finally:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    def save(self, path: Path, meta: dict[str, Any]) -> None:
        """Write the recorded exchanges and the scenario's facts (`meta`) as JSON."""
        path.write_text(json.dumps({"meta": meta,
                                    "exchanges": [asdict(e) for e in self.exchanges]},
                                   indent=1, sort_keys=True) + "\n")

    async def _handle(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.post()).items()})
        self.seen.append(Seen(request.path, params, dict(request.headers)))
        if self.upstream is not None:
            exchange = await self._forward(request.path, params)
            if (request.path, _key(params)) not in self._answers:
                self._answers[(request.path, _key(params))] = exchange
                self.exchanges.append(exchange)
        else:
            exchange = self._answers.get((request.path, _key(params)))  # type: ignore[assignment]
            if exchange is None:
                return web.json_response(
                    {"status": "error", "errorType": "not_recorded",
                     "error": f"no recorded answer for {request.path} {params}"}, status=500)
        return web.json_response(exchange.body, status=exchange.status)

    async def _forward(self, path: str, params: dict[str, str]) -> Exchange:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session, \
                session.get(f"{self.upstream}{path}", params=params) as resp:
            return Exchange(path, params, resp.status, await resp.json())


def _key(params: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(params.items()))
