"""How much load gameday's Locust gives on this machine: one process vs a master + 2 workers.

Target: HAProxy answering a static 200 on 127.0.0.1 when it is installed (so the target is not
the bottleneck), else an aiohttp server in a child process. Same spec both times: the default
FastHttpUser, 20 users, no wait. Run from the repository root:

    .venv/bin/python bench/load_throughput.py [--seconds 8]

On 2 cores, workers compete with the master, the target and each other: the point is to know
whether `workers=2` buys anything here, not a general Locust benchmark.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gameday.load import LoadResult, LoadRun, LoadSpec

AIOHTTP_SERVER = textwrap.dedent("""
    import sys
    from aiohttp import web
    async def ok(request):
        return web.Response(text="ok")
    app = web.Application()
    app.router.add_get("/", ok)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def target(workdir: Path) -> Iterator[tuple[str, str]]:
    """(url, description) of a loopback server answering GET / with 200; stopped on exit."""
    port = _free_port()
    if shutil.which("haproxy"):
        cfg = workdir / "haproxy.cfg"
        cfg.write_text(textwrap.dedent(f"""
            defaults
                mode http
                timeout client 10s
                timeout connect 5s
                timeout server 10s
            frontend bench
                bind 127.0.0.1:{port}
                http-request return status 200 content-type text/plain string ok
        """))
        argv, what = ["haproxy", "-f", str(cfg)], "haproxy static 200"
    else:
        script = workdir / "server.py"
        script.write_text(AIOHTTP_SERVER)
        argv, what = [sys.executable, str(script), str(port)], "aiohttp (1 process)"
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"bench target {argv[0]} did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", what
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def measure(url: str, workers: int, seconds: float, out: Path) -> LoadResult:
    spec = LoadSpec(host=url, users=20, spawn_rate=20, workers=workers, run_time_s=seconds)
    run = LoadRun(spec, out)
    with run:
        run.wait(timeout_s=seconds + 30)
    return run.result()


def steady_rps(result: LoadResult) -> float:
    """Median of the full seconds: the first and last seconds are partial."""
    inner = [p.rps for p in result.timeline[1:-1]]
    return statistics.median(inner) if inner else result.rps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--host", help="measure against this URL (e.g. the lab's ingress_url) "
                                       "instead of a local static target")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gameday-bench-") as tmp, \
            contextlib.ExitStack() as stack:
        url, what = ((args.host, args.host) if args.host
                     else stack.enter_context(target(Path(tmp))))
        rows = [(label, measure(url, workers, args.seconds, Path(tmp) / label))
                for label, workers in (("1 process", 0), ("master + 2 workers", 2))]
    print(f"target: {what}; default FastHttpUser, 20 users, no wait, {args.seconds:g} s each")
    print(f"{'mode':<20}{'requests':>10}{'rps':>9}{'steady':>9}{'p50 ms':>8}{'p95 ms':>8}"
          f"{'p99 ms':>8}{'fail':>6}")
    for label, r in rows:
        print(f"{label:<20}{r.requests:>10}{r.rps:>9.0f}{steady_rps(r):>9.0f}"
              f"{r.p50_ms or 0:>8.0f}{r.p95_ms or 0:>8.0f}{r.p99_ms or 0:>8.0f}{r.failures:>6}")


if __name__ == "__main__":
    main()
