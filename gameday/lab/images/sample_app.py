"""The lab's sample service: one small HTTP process per pod, with knobs a game day can turn.

Hollow nodes run it as a real local process bound to the pod's own loopback IP, so load, probes,
the ingress load balancer and Prometheus all talk to something that behaves like a real pod: it
takes time to start, fails when told to, and shuts down the way a well-behaved GKE workload
should — on SIGTERM it first reports not ready (so health checks take it out of the load
balancer), keeps serving for `DRAIN_S`, then exits 0 within the grace period.

Settings come from the environment (the container's `env`) and may be overridden by flags (the
container's `args`): PORT, LATENCY_MS, LATENCY_JITTER_MS, ERROR_RATE, STARTUP_DELAY_S, DRAIN_S.
The hollow node adds GAMEDAY_POD_IP (bind address), GAMEDAY_POD_NAME, GAMEDAY_POD_NAMESPACE and
GAMEDAY_NODE_NAME. Run it as `python -m gameday.lab.images.sample_app`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Buckets span 5 ms..5 s so latency SLO thresholds (often 100 ms..1 s) fall on a bucket edge.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ROUTES = ("/", "/readyz", "/healthz", "/metrics")  # anything else is counted as path="other"


@dataclass(frozen=True)
class AppConfig:
    """What one sample-app process does; built from env and argv by `parse_config`."""

    host: str = "127.0.0.1"
    port: int = 8080
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0
    startup_delay_s: float = 0.0
    drain_s: float = 2.0
    pod: str = ""
    namespace: str = ""
    node: str = ""


def _float_in(name: str, low: float, high: float | None) -> Callable[[str], float]:
    def convert(text: str) -> float:
        value = float(text)
        if value < low or (high is not None and value > high):
            bound = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
            raise argparse.ArgumentTypeError(f"{name} must be {bound}, got {text}")
        return value
    return convert


def parse_config(argv: Sequence[str], env: Mapping[str, str]) -> AppConfig:
    """Env first (pod spec `env`), flags override (pod spec `args`); bad values exit with usage."""
    parser = argparse.ArgumentParser(prog="python -m gameday.lab.images.sample_app",
                                     description="gameday lab sample service")
    knobs = (  # flag, env var, converter
        ("--port", "PORT", int),
        ("--latency-ms", "LATENCY_MS", _float_in("LATENCY_MS", 0, None)),
        ("--latency-jitter-ms", "LATENCY_JITTER_MS", _float_in("LATENCY_JITTER_MS", 0, None)),
        ("--error-rate", "ERROR_RATE", _float_in("ERROR_RATE", 0, 1)),
        ("--startup-delay-s", "STARTUP_DELAY_S", _float_in("STARTUP_DELAY_S", 0, None)),
        ("--drain-s", "DRAIN_S", _float_in("DRAIN_S", 0, None)),
    )
    defaults = AppConfig()
    for flag, var, convert in knobs:
        dest = flag[2:].replace("-", "_")
        raw = env.get(var)
        try:
            default = convert(raw) if raw not in (None, "") else getattr(defaults, dest)
        except (ValueError, argparse.ArgumentTypeError) as exc:
            parser.error(f"environment variable {var}={raw!r} is invalid: {exc}")
        parser.add_argument(flag, type=convert, default=default, help=f"(env {var})")
    parser.add_argument("--host", default=env.get("GAMEDAY_POD_IP") or defaults.host,
                        help="bind address (env GAMEDAY_POD_IP)")
    args = parser.parse_args(list(argv))
    return AppConfig(pod=env.get("GAMEDAY_POD_NAME", ""),
                     namespace=env.get("GAMEDAY_POD_NAMESPACE", ""),
                     node=env.get("GAMEDAY_NODE_NAME", ""), **vars(args))


class SampleApp:
    """The aiohttp application plus the drain state machine: ready -> draining -> stopped."""

    def __init__(self, config: AppConfig, registry: CollectorRegistry | None = None) -> None:
        self.config = config
        self.registry = registry or CollectorRegistry()
        self.requests = Counter("http_requests_total", "HTTP requests served, by status code",
                                ("code", "path", "method"), registry=self.registry)
        self.duration = Histogram("http_request_duration_seconds",
                                  "Time to serve an HTTP request", ("path", "method"),
                                  buckets=LATENCY_BUCKETS, registry=self.registry)
        self.draining = False
        self.app = web.Application(middlewares=[self._measure])
        self.app.router.add_get("/", self._work)
        self.app.router.add_get("/readyz", self._readyz)
        self.app.router.add_get("/healthz", self._healthz)
        self.app.router.add_get("/metrics", self._metrics)

    @web.middleware
    async def _measure(self, request: web.Request,
                       handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                       ) -> web.StreamResponse:
        path = request.path if request.path in ROUTES else "other"
        start = time.perf_counter()
        code = 500
        try:
            response = await handler(request)
            code = response.status
            return response
        except web.HTTPException as exc:
            code = exc.status
            raise
        finally:
            self.duration.labels(path, request.method).observe(time.perf_counter() - start)
            self.requests.labels(str(code), path, request.method).inc()

    def _identity(self) -> dict[str, str]:
        c = self.config
        return {"pod": c.pod, "namespace": c.namespace, "node": c.node}

    async def _work(self, request: web.Request) -> web.Response:
        c = self.config
        delay_ms = c.latency_ms + (random.uniform(-c.latency_jitter_ms, c.latency_jitter_ms)
                                   if c.latency_jitter_ms else 0.0)
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        if c.error_rate and random.random() < c.error_rate:
            return web.json_response({"error": "injected by ERROR_RATE", **self._identity()},
                                     status=500)
        return web.json_response({"ok": True, **self._identity()})

    async def _readyz(self, request: web.Request) -> web.Response:
        if self.draining:
            return web.Response(status=503, text="draining\n")
        return web.Response(text="ok\n")

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def serve(self, stop: asyncio.Event) -> None:
        """Listen after the startup delay, serve until `stop` is set, drain, then shut down."""
        c = self.config
        if c.startup_delay_s:
            try:  # a pod killed while still starting should exit promptly
                await asyncio.wait_for(stop.wait(), c.startup_delay_s)
                return
            except TimeoutError:
                pass
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                               shutdown_timeout=max(c.drain_s, 1.0))
        await runner.setup()
        await web.TCPSite(runner, c.host, c.port, reuse_address=True).start()
        print(json.dumps({"msg": "listening", "host": c.host, "port": c.port,
                          **self._identity()}), flush=True)
        try:
            await stop.wait()
            self.draining = True  # /readyz now fails, so health checks take us out of the LB
            print(json.dumps({"msg": "draining", "seconds": c.drain_s}), flush=True)
            await asyncio.sleep(c.drain_s)
        finally:
            await runner.cleanup()  # waits for in-flight requests up to shutdown_timeout


async def _main(config: AppConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await SampleApp(config).serve(stop)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m`; returns 0 after a graceful drain."""
    config = parse_config(sys.argv[1:] if argv is None else argv, os.environ)
    disable_created_metrics()  # `_created` series double the scrape size and no SLO uses them
    try:
        asyncio.run(_main(config))
    except OSError as exc:
        print(f"sample-app: cannot listen on {config.host}:{config.port}: {exc}; is another pod "
              "process bound to this address?", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
