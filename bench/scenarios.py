"""Benchmark: wall time of each shipped scenario end to end on the lab (lab already up), and
Locust throughput through the lab's ingress with 1 process vs master + 2 workers.

Run: `.venv/bin/python bench/scenarios.py` (starts a lab of its own in a temporary folder).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gameday.lab.config import LabConfig
from gameday.lab.down import down
from gameday.lab.up import up

ROOT = Path(__file__).resolve().parent.parent
RUNS = [("zone_outage.py", ["--gameday-set", "zones=europe-west1-b"], "one zone"),
        ("preemptible_node_loss.py", ["-k", "1"], "one Spot node"),
        ("preemptible_node_loss.py", ["-k", "2"], "two Spot nodes"),
        ("ingress_healthcheck_lag.py", ["-k", "tight"], "tight health check"),
        ("ingress_healthcheck_lag.py", ["-k", "loose"], "loose health check")]


def main() -> None:
    print(f"machine: {platform.node()}, {os.cpu_count()} cores; fast profile, lab already up")
    with tempfile.TemporaryDirectory() as tmp:
        lab_dir = Path(tmp) / "lab"
        state = up(LabConfig(), lab_dir, quiet=True)
        try:
            print("| scenario | wall time | result |\n|---|---|---|")
            for file, args, label in RUNS:
                t0 = time.monotonic()
                proc = subprocess.run(
                    [sys.executable, "-m", "pytest", "-q", f"scenarios/{file}", "--lab=running",
                     "--lab-dir", str(lab_dir), "--report-dir", str(Path(tmp) / "reports"),
                     *args], cwd=ROOT, capture_output=True, text=True, check=False)
                verdict = "pass" if proc.returncode == 0 else f"exit {proc.returncode}"
                print(f"| {file} ({label}) | {time.monotonic() - t0:.1f} s | {verdict} |")
            subprocess.run([sys.executable, "bench/load_throughput.py", "--host",
                            state.endpoints()["ingress_url"]], cwd=ROOT, check=True)
        finally:
            down(lab_dir, purge=True)


if __name__ == "__main__":
    main()
