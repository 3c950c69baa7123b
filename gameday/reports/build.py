"""Write every file-based report of a run: index.html, summary.json, junit.xml in the run
folder, and trend.json / trend.html beside the run folders.

Every file goes through the run's Redactor on its way to disk: a secret that reached the
evidence (an error message quoting a header, say) still never reaches a report.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from gameday.reports.html import render_index, render_trend
from gameday.reports.junit import render_junit
from gameday.reports.model import RunRecord
from gameday.reports.redact import Redactor
from gameday.reports.trend import SUMMARY, build_trend


@dataclass(frozen=True)
class Written:
    """What `write_reports` produced, and how long it took."""

    index: Path
    summary: Path
    junit: Path
    trend_html: Path
    trend_json: Path
    seconds: float


def write_reports(run: RunRecord, run_dir: Path, redactor: Redactor) -> Written:
    """Write the run's reports (and refresh the trend over every run in run_dir's parent)."""
    began = time.perf_counter()
    run_dir.mkdir(parents=True, exist_ok=True)
    summary = _write(run_dir / SUMMARY, json.dumps(run.to_dict(), indent=2, default=str),
                     redactor)
    junit = _write(run_dir / "junit.xml", render_junit(run), redactor)
    index = _write(run_dir / "index.html", render_index(run, run_dir), redactor)
    trend = build_trend(run_dir.parent)
    trend_json = _write(run_dir.parent / "trend.json", json.dumps(trend, indent=2), redactor)
    trend_html = _write(run_dir.parent / "trend.html", render_trend(trend), redactor)
    return Written(index, summary, junit, trend_html, trend_json,
                   time.perf_counter() - began)


def _write(path: Path, text: str, redactor: Redactor) -> Path:
    """Write atomically (a reader never sees half a report) and scrubbed."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(redactor.text(text), encoding="utf-8")
    tmp.replace(path)
    return path
