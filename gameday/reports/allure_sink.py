"""Allure: a game day's phases and faults as steps, and its evidence as attachments, added to
the test result allure-pytest keeps open until the end of the test's protocol.

Scenarios never import allure: this sink reads the same TestRecord as every other report and
writes into allure-pytest's result for the test (steps carry the evidence's own timestamps, so
Allure's timeline shows when the fault really was, not when the report was made). Active only
with `--alluredir` (allure-pytest's listener is registered only then).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from allure_commons.model2 import Status, TestStepResult
from allure_commons.types import AttachmentType

from gameday.reports.charts import figure_div, plotly_js, timeline_figure
from gameday.reports.model import TestRecord
from gameday.reports.redact import Redactor
from gameday.slo.base import measured_text

_RANK = ("pass", "inconclusive", "fail")
_STEP_STATUS = {"pass": Status.PASSED, "fail": Status.FAILED,
                "inconclusive": Status.BROKEN}


def allure_reporter(config: pytest.Config) -> Any | None:
    """allure-pytest's reporter when `--alluredir` is on, else None."""
    listener = config.pluginmanager.get_plugin("allure_listener")
    return getattr(listener, "allure_logger", None)


def add_to_allure(reporter: Any, test: TestRecord, redactor: Redactor,
                  ledger: Path | None) -> None:
    """Steps per phase (faults nested in the phase they started in) and attachments: the
    timeline chart, the SLO table, Locust's CSV and the revert ledger."""
    result = reporter.get_test(None)
    ev = test.evidence
    if result is None or not ev:
        return
    result.steps.extend(phase_steps(ev))

    def attach(body: str, name: str, kind: AttachmentType) -> None:
        reporter.attach_data(uuid.uuid4(), redactor.text(body), name=name,
                             attachment_type=kind, parent_uuid=result.uuid)

    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><script>{plotly_js()}"
            f"</script></head><body>{figure_div(timeline_figure(test), 'chart')}</body></html>")
    attach(page, "timeline chart", AttachmentType.HTML)
    if ev.get("verdicts"):
        attach(slo_csv(ev["verdicts"]), "SLO verdicts", AttachmentType.CSV)
    for item in ev.get("attachments", []):
        path = Path(item["path"]) if "path" in item else None
        if path is not None and path.is_file() and item["mime"].startswith("text/"):
            kind = AttachmentType.CSV if item["mime"] == "text/csv" else AttachmentType.TEXT
            attach(path.read_text(errors="replace"), item["name"], kind)
    if ledger is not None and ledger.is_file():
        attach(ledger.read_text(errors="replace"), "revert ledger", AttachmentType.TEXT)


def phase_steps(ev: dict[str, Any]) -> list[TestStepResult]:
    """One step per phase, with the status of the SLO verdicts judged over it; each fault
    (from its `<kind>.injected_at`/`reverted_at` figures) a sub-step of its phase, with the
    fault's own events inside."""
    worst: dict[str, str] = {}
    for v in ev.get("verdicts", []):
        worst[v["phase"]] = max(worst.get(v["phase"], "pass"), v["status"], key=_RANK.index)
    steps = []
    for phase in ev.get("phases", []):
        start, end = _ms(phase["start"]), _ms(phase["end"])
        judged = [f"{v['slo_name']}: {v['status']} "
                  f"({measured_text(v['kind'], v['measured'])}, target {v['target']})"
                  for v in ev.get("verdicts", []) if v["phase"] == phase["name"]]
        step = TestStepResult(name=f"phase {phase['name']}", start=start, stop=end,
                              status=_STEP_STATUS.get(worst.get(phase["name"], "pass")),
                              description="\n".join(judged) or None)
        step.steps = [f for f in _fault_steps(ev) if start <= f.start <= end]
        steps.append(step)
    return steps


def _fault_steps(ev: dict[str, Any]) -> list[TestStepResult]:
    figures = ev.get("figures", {})
    steps = []
    for key, value in figures.items():
        kind, _, what = key.rpartition(".")
        if what != "injected_at":
            continue
        start = round(value * 1000)
        stop = round(figures.get(f"{kind}.reverted_at", value) * 1000)
        events = [TestStepResult(name=e["message"].splitlines()[0][:200],
                                 start=_ms(e["ts"]), stop=_ms(e["ts"]), status=Status.PASSED)
                  for e in ev.get("events", []) if e["kind"].startswith(f"{kind}.")]
        steps.append(TestStepResult(name=f"fault {kind}", start=start, stop=stop,
                                    status=Status.PASSED, steps=events))
    return steps


def slo_csv(verdicts: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["slo", "kind", "phase", "target", "measured", "status", "window start",
                     "window end", "promql"])
    for v in verdicts:
        window = v.get("window") or {}
        writer.writerow([v["slo_name"], v["kind"], v["phase"], v["target"],
                         measured_text(v["kind"], v["measured"]), v["status"],
                         window.get("start", ""), window.get("end", ""), v["promql"]])
    return out.getvalue()


def _ms(iso: str) -> int:
    return round(dt.datetime.fromisoformat(iso).timestamp() * 1000)
