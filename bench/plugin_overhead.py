"""Benchmark: what gameday's pytest plugin costs a pytest run that never touches a cluster.

Side by side in one run, alternating to share the machine's noise: `pytest --collect-only` of
the shipped scenarios with the plugin loaded vs `-p no:gameday` (which cannot collect scenarios,
so a plain test file is the fair comparison), and the plugin module's own import time.
Run: `.venv/bin/python bench/plugin_overhead.py [--runs 7]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "test_plain.py"
        plain.write_text("".join(f"def test_{i}():\n    pass\n" for i in range(50)))
        base = [sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider",
                "--rootdir", tmp, "-c", os.devnull, "-p", "no:locust"]
        with_plugin, without = [], []
        for _ in range(args.runs):
            with_plugin.append(timed([*base, str(plain)]))
            without.append(timed([*base, "-p", "no:gameday", str(plain)]))
        scenarios = [timed([sys.executable, "-m", "pytest", "-q", "--collect-only",
                            "scenarios/", "--lab=off", "--gameday-set", "zones=a,b,c"])
                     for _ in range(args.runs)]
    imp = subprocess.run([sys.executable, "-X", "importtime", "-c", "import gameday.plugin"],
                         capture_output=True, text=True, check=True).stderr.splitlines()
    own = next(int(line.split("|")[1]) for line in reversed(imp) if "gameday.plugin" in line)
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; median of {args.runs}")
    print("| measurement | median |")
    print("|---|---|")
    print(f"| collect 50 plain tests, plugin loaded | {statistics.median(with_plugin):.3f} s |")
    print(f"| collect 50 plain tests, `-p no:gameday` | {statistics.median(without):.3f} s |")
    print(f"| collect the shipped scenarios (`--lab=off`) | {statistics.median(scenarios):.3f} s |")
    print(f"| `import gameday.plugin` (cumulative, -X importtime) | {own / 1000:.1f} ms |")


if __name__ == "__main__":
    main()
