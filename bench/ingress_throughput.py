"""Throughput of the lab's ingress load balancer vs calling a backend directly (and HAProxy).

Each server runs in its own process on loopback: one backend (aiohttp, `LoopbackBackend`), the
gameday LB in front of it (health-checked, round robin), and, if /usr/sbin/haproxy exists, HAProxy
2.6 in front of the same backend. The client is `wrk` when installed (apt-get install wrk), else
an aiohttp client; both run C concurrent keep-alive connections for D seconds, bounded.

    .venv/bin/python bench/ingress_throughput.py [--connections 50] [--duration 10]

Prints one JSON line per target: rps, p50/p99 latency, non-2xx count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp

from gameday.lab.ingress.healthcheck import HealthCheckSettings
from gameday.lab.ingress.lb import LoadBalancer
from gameday.lab.ingress.testing import LoopbackBackend, single_service_config

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {timeout_s}s")


def run_backend(port: int) -> None:
    async def main() -> None:
        backend = LoopbackBackend("bench", HOST)
        backend.port = port
        await backend.start()
        await asyncio.Event().wait()
    asyncio.run(main())


def run_lb(port: int, backend_port: int) -> None:
    async def main() -> None:
        lb = LoadBalancer(f"{HOST}:{port}", f"{HOST}:0")
        await lb.start()
        backend = LoopbackBackend("bench", HOST)
        backend.port = backend_port
        settings = HealthCheckSettings(interval_s=1, timeout_s=1, healthy_threshold=1,
                                       unhealthy_threshold=2, request_path="/healthz")
        lb.apply(single_service_config([backend], settings))
        await asyncio.Event().wait()
    asyncio.run(main())


def haproxy(port: int, backend_port: int, folder: Path) -> subprocess.Popen | None:
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        return None
    cfg = folder / "haproxy.cfg"
    cfg.write_text(f"""global
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend fe
  bind {HOST}:{port}
  default_backend be
backend be
  option httpchk GET /healthz
  server b1 {HOST}:{backend_port} check inter 1s fall 2 rise 1
""")
    return subprocess.Popen([binary, "-f", str(cfg), "-db"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def wrk(url: str, connections: int, duration: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t", "1", "-c", str(connections), "-d", f"{duration}s", "--latency", url],
        capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"client": "wrk", "rps": rps, "p50_ms": ms("50%"), "p99_ms": ms("99%"),
            "non_2xx": int(bad.group(1)) if bad else 0}


async def aiohttp_load(url: str, connections: int, duration: int) -> dict:
    latencies: list[float] = []
    bad = 0
    deadline = time.monotonic() + duration

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal bad
        while time.monotonic() < deadline:
            started = time.perf_counter()
            async with session.get(url) as resp:
                await resp.read()
                bad += resp.status >= 300
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=10)) as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))
    latencies.sort()
    return {"client": "aiohttp", "rps": len(latencies) / duration,
            "p50_ms": 1000 * latencies[len(latencies) // 2],
            "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)], "non_2xx": bad}


def measure(url: str, connections: int, duration: int) -> dict:
    if shutil.which("wrk"):
        return wrk(url, connections, duration)
    return asyncio.run(aiohttp_load(url, connections, duration))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    backend_port, lb_port, ha_port = free_port(), free_port(), free_port()
    procs = [mp.Process(target=run_backend, args=(backend_port,), daemon=True),
             mp.Process(target=run_lb, args=(lb_port, backend_port), daemon=True)]
    for p in procs:
        p.start()
    with tempfile.TemporaryDirectory() as tmp:
        ha = haproxy(ha_port, backend_port, Path(tmp))
        try:
            targets = {"direct": backend_port, "gameday-lb": lb_port}
            if ha is not None:
                targets["haproxy"] = ha_port
            for port in targets.values():
                wait_port(port)
            time.sleep(1.5)  # the LB's first health check must pass before traffic is served
            for name, port in targets.items():
                result = measure(f"http://{HOST}:{port}/bench", args.connections, args.duration)
                print(json.dumps({"target": name, "connections": args.connections,
                                  "duration_s": args.duration, **result}), flush=True)
        finally:
            if ha is not None:
                ha.terminate()
                ha.wait(timeout=10)
            for p in procs:
                p.terminate()
                p.join(timeout=10)


if __name__ == "__main__":
    main()
