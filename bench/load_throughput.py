"""How much load gameday's Locust gives on this machine: one process vs a master + N workers.

Target: HAProxy answering a static 200 on 127.0.0.1 when it is installed (so the target is not
the bottleneck), else an aiohttp server in a child process. Same spec both times: the default
FastHttpUser, 20 users, no wait. Run from the repository root:

    .venv/bin/python bench/load_throughput.py [--seconds 8] [--workers 0 1 2]
        [--host "$(.venv/bin/gameday lab status --json | jq -r .ingress_url)"]

With --host the lab's ingress is measured side by side with the static target, in the same run.

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
    parser.add_argument("--host", help="also measure against this URL (e.g. the lab's "
                                       "ingress_url), side by side with the static target")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2],
                        help="worker counts to compare; 0 = one Locust process (default: 0 2)")
    args = parser.parse_args()
    rows: list[tuple[str, str, int, LoadResult]] = []
    with tempfile.TemporaryDirectory(prefix="gameday-bench-") as tmp, \
            contextlib.ExitStack() as stack:
        targets = [stack.enter_context(target(Path(tmp)))]
        if args.host:
            targets.append((args.host, f"{args.host}"))
        for workers in args.workers:
            for url, what in targets:
                out = Path(tmp) / f"{len(rows)}"
                rows.append((what, _mode(workers), workers,
                             measure(url, workers, args.seconds, out)))
    print(f"default FastHttpUser, 20 users, no wait, {args.seconds:g} s each")
    print(f"{'target':<24}{'mode':<20}{'requests':>10}{'rps':>9}{'steady':>9}"
          f"{'per proc':>9}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'fail':>6}")
    for what, mode, workers, r in rows:
        steady = steady_rps(r)
        print(f"{what:<24}{mode:<20}{r.requests:>10}{r.rps:>9.0f}{steady:>9.0f}"
              f"{steady / max(workers, 1):>9.0f}{r.p50_ms or 0:>8.0f}{r.p95_ms or 0:>8.0f}"
              f"{r.p99_ms or 0:>8.0f}{r.failures:>6}")


def _mode(workers: int) -> str:
    return "1 process" if workers == 0 else f"master + {workers} worker{'s' * (workers > 1)}"


if __name__ == "__main__":
    main()
