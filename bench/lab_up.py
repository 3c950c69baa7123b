"""Benchmark: how fast `lab up` gets 6 nodes Ready, and what 100 nodes + 1,000 pods cost labd.

Run: `.venv/bin/python bench/lab_up.py [--runs 3] [--big-nodes 100 --big-pods 1000]`.
Prints a Markdown table for BENCHMARKS.md. Binaries must already be installed (cached).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from kubernetes import client, config

from gameday.lab.config import LabConfig
from gameday.lab.down import down
from gameday.lab.up import up

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (what `top` would show, integrated)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def time_up(runs: int, profile: str) -> tuple[list[float], list[float]]:
    """(seconds to 6 nodes Ready, seconds to the sample app serving through the ingress)."""
    nodes, serving = [], []
    for i in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            state = up(LabConfig(nodes=6, zones=3, profile=profile, ip_block=200 + i),
                       Path(tmp) / "lab", quiet=True)
            nodes.append(state.timings["nodes_ready_s"])
            serving.append(state.timings["up_s"])
            down(Path(tmp) / "lab", purge=True)
    return nodes, serving


def big_lab(nodes: int, zones: int, pods: int, profile: str, hold_s: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        state_dir = Path(tmp) / "lab"
        t0 = time.monotonic()
        state = up(LabConfig(nodes=nodes, zones=zones, profile=profile, ip_block=210,
                             deploy_app=False), state_dir, quiet=True, timeout_s=300)
        nodes_ready = time.monotonic() - t0
        try:
            api = config.new_client_from_config(str(state.kubeconfig))
            apps = client.AppsV1Api(api)
            per = 100
            t1 = time.monotonic()
            for i in range(pods // per):
                apps.create_namespaced_deployment("default", {
                    "metadata": {"name": f"bulk-{i}"},
                    "spec": {"replicas": per, "selector": {"matchLabels": {"app": f"b{i}"}},
                             "template": {"metadata": {"labels": {"app": f"b{i}"}},
                                          "spec": {"containers": [{"name": "c",
                                                                   "image": "nginx:1.25"}]}}}})
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                ready = sum(d.status.ready_replicas or 0 for d in
                            apps.list_namespaced_deployment("default").items)
                if ready >= pods:
                    break
                time.sleep(1)
            pods_ready = time.monotonic() - t1
            labd = state.processes["labd"].pid
            c0, w0 = cpu_seconds(labd), time.monotonic()
            time.sleep(hold_s)
            cores = (cpu_seconds(labd) - c0) / (time.monotonic() - w0)
        finally:
            down(state_dir, purge=True)
    return {"nodes_ready_s": nodes_ready, "pods_ready_s": pods_ready, "labd_cores": cores,
            "pods": ready}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--big-nodes", type=int, default=100)
    parser.add_argument("--big-zones", type=int, default=4)
    parser.add_argument("--big-pods", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=30.0)
    args = parser.parse_args()
    print(f"machine: {platform.node()} {os.cpu_count()} cores, {platform.platform()}")
    nodes, serving = time_up(args.runs, "fast")
    for label, times in (("6 nodes Ready", nodes), ("sample app serving via ingress", serving)):
        print(f"| lab up -> {label} (fast profile) | median {statistics.median(times):.1f} s "
              f"| runs {', '.join(f'{t:.1f}' for t in times)} |")
    for profile in ("gke", "fast"):
        r = big_lab(args.big_nodes, args.big_zones, args.big_pods, profile, args.hold)
        print(f"| {args.big_nodes} nodes + {r['pods']} pods ({profile} profile) | nodes Ready "
              f"{r['nodes_ready_s']:.1f} s, pods Ready {r['pods_ready_s']:.1f} s | labd "
              f"{r['labd_cores']:.2f} cores held over {args.hold:.0f} s |")


if __name__ == "__main__":
    main()
