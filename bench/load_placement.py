"""Runner vs cluster load placement, side by side in one run on one lab.

For each target (a static HAProxy/aiohttp 200 on loopback, and the lab's ingress) and each
placement (runner: one Locust process on this machine; cluster: a master pod + 1, 2, 4 worker
pods on the lab's hollow nodes, driven through the apiserver's pod proxy):
- seconds from start() to the first answered request (pods created, scheduled, joined),
- steady requests per second, and per worker,
- seconds to tear down (stop, final figures read, every pod gone).

    .venv/bin/python bench/load_placement.py [--seconds 8] [--workers 1 2 4]

Starts its own lab (fast profile) and purges it afterwards. On 2 cores every worker competes
with the others, the target and the lab: the point is the cost of each placement here, not
Locust's ceiling.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

from gameday.adapters.kube import KubeAdapter
from gameday.faults.ledger import Ledger
from gameday.lab.config import LabConfig
from gameday.lab.down import down
from gameday.lab.up import up
from gameday.load import LoadRun, LoadSpec
from gameday.load.cluster import ClusterLoad
from gameday.load.manifests import Placement
from gameday.load.placement import default_image

sys.path.insert(0, str(Path(__file__).parent))
from load_throughput import steady_rps, target


def run_once(load: LoadRun | ClusterLoad, seconds: float) -> tuple[float, float, float, int]:
    """(s to first request, steady rps, s to tear down, failures)."""
    t0 = time.monotonic()
    load.start()
    first = time.monotonic() - t0
    time.sleep(seconds)
    t1 = time.monotonic()
    load.stop()
    teardown = time.monotonic() - t1
    result = load.result()
    return first, steady_rps(result), teardown, result.failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="gameday-bench-") as tmp, \
            contextlib.ExitStack() as stack:
        state_dir = Path(tmp) / "lab"
        print("starting a lab (fast profile) ...", flush=True)
        state = up(LabConfig(profile="fast"), state_dir, quiet=True)
        stack.callback(down, state_dir, purge=True)
        kube = KubeAdapter(state.kubeconfig, state.context)
        stack.callback(kube.close)
        static = stack.enter_context(target(Path(tmp)))
        targets = [static, (state.endpoints()["ingress_url"], "lab ingress")]
        for url, what in targets:
            spec = LoadSpec(host=url, users=20, spawn_rate=20)
            out = Path(tmp) / f"r{len(rows)}"
            rows.append((what, "runner, 1 process", 1,
                         run_once(LoadRun(spec, out), args.seconds)))
            for workers in args.workers:
                out = Path(tmp) / f"r{len(rows)}"
                load = ClusterLoad(spec, out, kube=kube, ledger=Ledger.in_run_folder(out),
                                   run_id=f"bench-{len(rows)}",
                                   placement=Placement(image=default_image(), workers=workers),
                                   scrape_interval_s=1.0)
                rows.append((what, f"cluster, {workers} worker pod(s)", workers,
                             run_once(load, args.seconds)))
                print(f"  {what}: {rows[-1][1]} done", flush=True)
    print(f"default FastHttpUser, 20 users, no wait, {args.seconds:g} s each")
    print(f"{'target':<22}{'placement':<26}{'first req s':>12}{'steady rps':>11}"
          f"{'rps/worker':>11}{'teardown s':>11}{'fail':>6}")
    for what, placement, workers, (first, rps, teardown, failures) in rows:
        print(f"{what:<22}{placement:<26}{first:>12.1f}{rps:>11.0f}{rps / workers:>11.0f}"
              f"{teardown:>11.1f}{failures:>6}")


if __name__ == "__main__":
    main()
