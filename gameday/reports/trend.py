"""The trend across runs: recovery time and availability per scenario, from every run's
summary.json in the reports folder (`reports/trend.json` and `reports/trend.html`).

Read from the summaries rather than kept in a database so that deleting a run folder removes
it from the trend, and a summary from an older gameday that lacks a figure just shows a gap.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gameday.reports.html import fault_availability

SUMMARY = "summary.json"


def build_trend(reports_root: Path) -> dict[str, Any]:
    """Every run's summary under `reports_root`, oldest first (run ids start with a UTC stamp).

    A summary that cannot be read is listed under `unreadable` rather than failing the report.
    """
    runs: list[str] = []
    unreadable: list[str] = []
    scenarios: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(reports_root.glob(f"*/{SUMMARY}")):
        if path.parent.is_symlink():
            continue  # reports/latest
        try:
            summary = json.loads(path.read_text())
            run_id = summary["run_id"]
            profile = summary.get("environment", {}).get("timing_profile", "?")
            tests = summary["tests"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            unreadable.append(f"{path}: {exc}")
            continue
        runs.append(run_id)
        for test in tests:
            scenarios.setdefault(test["nodeid"], []).append({
                "run_id": run_id, "start": test.get("start"), "verdict": test.get("verdict"),
                "profile": profile,
                "recovery_time_s": (test.get("figures") or {}).get("recovery_time_s"),
                "availability": fault_availability(test.get("verdicts") or []),
            })
    return {"runs": runs, "scenarios": scenarios, "unreadable": unreadable}
