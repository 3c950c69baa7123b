"""The run's own page, `index.html`: one self-contained file a review meeting can open offline.

Everything the page needs is inside it (styles, plotly.js, the data); the only links are
relative ones to files of the same run folder (junit.xml, summary.json, Locust's CSV). Views
are built here from the records, so the template only lays them out.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

import jinja2

from gameday.reports.charts import figure_div, plotly_js, timeline_figure, trend_figure
from gameday.reports.model import RunRecord, TestRecord
from gameday.slo.base import measured_text

_TEMPLATES = Path(__file__).parent
NONE = "\N{EN DASH}"  # an empty cell


@functools.cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES),
                              autoescape=True, trim_blocks=True, lstrip_blocks=True,
                              undefined=jinja2.StrictUndefined)


def render_index(run: RunRecord, run_dir: Path) -> str:
    """The whole page for a run (run_dir: where relative links point from)."""
    tests = [_test_view(t, i, run_dir) for i, t in enumerate(run.tests)]
    return _env().get_template("template.html").render(
        title="Game day report", run=run, tests=tests, counts=run.counts(),
        started=_clock(run.started, date=True), finished=_clock(run.finished),
        environment=sorted(run.environment.items()), links=run.links, plotly_js=plotly_js())


def render_trend(trend: dict[str, Any]) -> str:
    """`reports/trend.html`: recovery time and availability per scenario across runs."""
    chart = figure_div(trend_figure(trend), "trend") if trend["scenarios"] else ""
    return _env().get_template("trend.html").render(trend=trend, chart=chart,
                                                    plotly_js=plotly_js())


def _test_view(test: TestRecord, index: int, run_dir: Path) -> dict[str, Any]:
    ev = test.evidence or {}
    verdicts = [_verdict_view(v) for v in ev.get("verdicts", [])]
    start = test.span[0] if test.span else None
    figures = ev.get("figures", {})
    return {
        "record": test, "anchor": f"t{index}",
        "verdicts": verdicts,
        "slos_met": f"{sum(v['status'] == 'pass' for v in verdicts)}/{len(verdicts)}"
                    if verdicts else NONE,
        "recovery": _figure_text("recovery_time_s", figures.get("recovery_time_s")),
        "availability": fault_availability_text(ev.get("verdicts", [])),
        "duration": f"{test.duration_s:.1f} s",
        "figures": [(k, _figure_text(k, v)) for k, v in sorted(figures.items())],
        "parameters": [(k, str(v)) for k, v in sorted(ev.get("parameters", {}).items())],
        "load": _load_rows(ev.get("load")),
        "chart": figure_div(timeline_figure(test), f"chart-{index}") if ev else "",
        "events": [_event_view(e, start) for e in ev.get("events", [])],
        "attachments": [_attachment_view(a, run_dir) for a in ev.get("attachments", [])],
    }


def _verdict_view(v: dict[str, Any]) -> dict[str, Any]:
    window = v.get("window") or {}
    times = [dt.datetime.fromisoformat(window[k]) for k in ("start", "end") if k in window]
    summary = v.get("message", "").split(" — query:")[0]
    return {**v, "measured_text": measured_text(v.get("kind", ""), v.get("measured")),
            "window_text": f" {NONE} ".join(_clock(t) for t in times), "summary": summary}


def fault_availability_text(verdicts: list[dict[str, Any]]) -> str:
    value = fault_availability(verdicts)
    return NONE if value is None else measured_text("availability", value)


def fault_availability(verdicts: list[dict[str, Any]]) -> float | None:
    """The lowest availability measured outside the baseline (the fault and what follows)."""
    values = [v["measured"] for v in verdicts if v.get("kind") == "availability"
              and v.get("phase") != "baseline" and v.get("measured") is not None]
    return min(values) if values else None


def _figure_text(name: str, value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, int | float) and name.endswith("_at"):
        return _clock(dt.datetime.fromtimestamp(value, dt.UTC)) + " UTC"
    if isinstance(value, float) and name.endswith("_s"):
        return f"{value:.1f} s"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _load_rows(load: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not load:
        return []
    rows = [("requests", f"{load['requests']:,}"), ("failures", f"{load['failures']:,}"),
            ("mean rps", f"{load['rps']:.0f}")]
    rows += [(k.replace("_ms", ""), f"{load[k]:g} ms") for k in ("p50_ms", "p95_ms", "p99_ms")
             if load.get(k) is not None]
    rows += [(f"error: {err}", f"{n:,}") for err, n in (load.get("failures_by_error") or {}
                                                      ).items()]
    return rows


def _event_view(e: dict[str, Any], start: dt.datetime | None) -> dict[str, str]:
    ts = dt.datetime.fromisoformat(e["ts"])
    offset = f"{(ts - start).total_seconds():.1f}" if start else ""
    return {"time": _clock(ts, millis=True), "offset": offset, "kind": e["kind"],
            "source": e.get("source", ""), "message": e["message"]}


def _attachment_view(a: dict[str, Any], run_dir: Path) -> dict[str, str]:
    view = {"name": a["name"], "mime": a["mime"], "href": "", "where": ""}
    if "path" in a:
        path = Path(a["path"])
        if path.is_relative_to(run_dir):
            view["href"] = path.relative_to(run_dir).as_posix()
        else:
            view["where"] = str(path)
    else:
        view["where"] = "kept in evidence.json"
    return view


def _clock(ts: dt.datetime, *, date: bool = False, millis: bool = False) -> str:
    ts = ts.astimezone(dt.UTC)
    text = ts.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")
    return text + (f".{ts.microsecond // 1000:03d}" if millis else "")
