"""`gameday recover` command-line behaviour that needs no cluster (issue 10 papercut)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gameday.faults.ledger import Ledger

ROOT = Path(__file__).resolve().parents[2]


def test_malformed_kubeconfig_is_one_line_naming_the_file(tmp_path: Path) -> None:
    Ledger.in_run_folder(tmp_path / "reports" / "run-1").open("pod_kill", "prod", {})
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nclusters: [\n  - name: x\n")
    out = subprocess.run(
        [sys.executable, "-m", "gameday.cli", "recover", "--kubeconfig", str(kubeconfig),
         "--report-dir", str(tmp_path / "reports")],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        f"gameday: error: --kubeconfig {kubeconfig} is not valid YAML (line 3): expected the "
        "node content, but found '-'"]
