"""Plotly figures for the reports: a test's timeline and the trend across runs.

The figures are rendered as `<div>`s without plotly.js; the page embeds plotly.js once
(`plotly_js()`), inline, so a report opens with no network. plotly.js carries a few attribution
links for map tiles and its logo; they are neutralised here so the page holds no external
`src`/`href` at all (no map trace is ever drawn, so nothing would fetch them anyway).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

import plotly.graph_objects as go
import plotly.offline
from plotly.subplots import make_subplots

from gameday.reports.model import TestRecord

PHASE_COLOURS = {"baseline": "#2e7d32", "fault": "#c62828", "recovery": "#1565c0"}
OTHER_PHASE = "#6a1b9a"
ROWS = ("Requests per second", "Error rate (%)", "Latency p95 / p99 (ms)", "Ready pods per zone")
SERIES_ROW = "Scenario series (e.g. split brain: pods per side)"
_EXTERNAL_ATTR = re.compile(r"""(\b(?:href|src)\s*=\s*\\?["'])https?://[^"'\\]*""")
_CONFIG = {"displaylogo": False, "responsive": True, "topojsonURL": ""}


@functools.cache
def plotly_js() -> str:
    """plotly.js (minified, ~4.8 MB) with its external links turned into `#`."""
    return _EXTERNAL_ATTR.sub(r"\1#", plotly.offline.get_plotlyjs())


def _utc(ts: float | str) -> dt.datetime:
    """Naive UTC: plotly.js cannot parse a UTC offset, so the axis is labelled UTC instead."""
    when = dt.datetime.fromisoformat(ts) if isinstance(ts, str) else \
        dt.datetime.fromtimestamp(ts, dt.UTC)
    return when.astimezone(dt.UTC).replace(tzinfo=None)


def timeline_figure(test: TestRecord) -> go.Figure:
    """Load (rps, error rate, p95/p99) and ready pods per zone on one time axis, with the
    phases as bands and each fault's inject/revert as vertical markers; a scenario's own
    series (evidence `series`, e.g. a split brain's pod counts) get a row of their own."""
    ev = test.evidence or {}
    series = ev.get("series") or {}
    rows = (*ROWS, SERIES_ROW) if series else ROWS
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=rows)
    fig.update_annotations(x=0, xanchor="left", font={"size": 13})  # titles clear of phases
    _load_traces(fig, (ev.get("load") or {}).get("timeline") or [])
    _zone_traces(fig, test)
    for name, points in series.items():
        fig.add_scatter(x=[_utc(ts) for ts, _ in points], y=[v for _, v in points],
                        name=name, mode="lines", line={"shape": "hv"}, row=len(rows), col=1)
    _phase_bands(fig, ev.get("phases", []))
    _fault_markers(fig, ev.get("figures", {}))
    fig.update_layout(height=220 * len(rows), margin={"l": 60, "r": 20, "t": 70, "b": 40},
                      template="plotly_white", hovermode="x unified",
                      legend={"orientation": "h", "y": -0.05})
    fig.update_yaxes(rangemode="tozero")
    fig.update_xaxes(showticklabels=True)
    return fig


def _load_traces(fig: go.Figure, timeline: list[dict[str, Any]]) -> None:
    if not timeline:
        for row in (1, 2, 3):
            _note(fig, row, "no load ran during this test")
        return
    x = [_utc(p["ts"]) for p in timeline]
    rps = [p["rps"] for p in timeline]
    fails = [p["failures_per_s"] for p in timeline]
    rate = [100.0 * f / (r or 1) if (r or f) else None for r, f in zip(rps, fails, strict=True)]
    fig.add_scatter(x=x, y=rps, name="requests/s", line={"color": "#1565c0"}, row=1, col=1)
    fig.add_scatter(x=x, y=fails, name="failures/s", line={"color": "#c62828"}, row=1, col=1)
    fig.add_scatter(x=x, y=rate, name="error rate %", line={"color": "#c62828"},
                    showlegend=False, row=2, col=1)
    for key, colour in (("p95_ms", "#ef6c00"), ("p99_ms", "#6d4c41")):
        fig.add_scatter(x=x, y=[p[key] for p in timeline], name=key.replace("_ms", " ms"),
                        line={"color": colour}, row=3, col=1)


def _zone_traces(fig: go.Figure, test: TestRecord) -> None:
    row = ROWS.index("Ready pods per zone") + 1
    zones = test.zones
    if zones is None:
        _note(fig, row, "ready pods per zone: not collected (no Prometheus for this run)")
        return
    if zones.error:
        _note(fig, row, f"ready pods per zone unavailable — {zones.error}"[:160])
        return
    for zone, points in zones.series.items():
        fig.add_scatter(x=[_utc(ts) for ts, _ in points], y=[v for _, v in points],
                        name=zone, mode="lines", line={"shape": "hv"}, row=row, col=1)


def _phase_bands(fig: go.Figure, phases: list[dict[str, Any]]) -> None:
    for phase in phases:
        colour = PHASE_COLOURS.get(phase["name"], OTHER_PHASE)
        start, end = _utc(phase["start"]), _utc(phase["end"])
        fig.add_shape(type="rect", xref="x", yref="paper", x0=start, x1=end, y0=0, y1=1,
                      fillcolor=colour, opacity=0.08, line_width=0, layer="below")
        fig.add_annotation(xref="x", yref="paper", x=start + (end - start) / 2, y=1.0,
                           yanchor="bottom", yshift=18,  # a line above the first chart's title
                           text=f"<b>{phase['name']}</b>", showarrow=False,
                           font={"color": colour, "size": 12})


def _fault_markers(fig: go.Figure, figures: dict[str, Any]) -> None:
    """`<kind>.injected_at` / `<kind>.reverted_at` figures (unix seconds) as dashed lines."""
    for key, value in figures.items():
        kind, _, what = key.rpartition(".")
        if what not in ("injected_at", "reverted_at") or not isinstance(value, int | float):
            continue
        label = f"{kind} {'inject' if what == 'injected_at' else 'revert'}"
        colour = "#c62828" if what == "injected_at" else "#2e7d32"
        ts = _utc(value)
        fig.add_shape(type="line", xref="x", yref="paper", x0=ts, x1=ts, y0=0, y1=1,
                      line={"color": colour, "dash": "dash", "width": 1.5})
        fig.add_annotation(xref="x", yref="paper", x=ts, y=0.985, text=label, showarrow=False,
                           xanchor="left", font={"color": colour, "size": 10},
                           bgcolor="rgba(255,255,255,0.8)")


def _note(fig: go.Figure, row: int, text: str) -> None:
    """Text in the middle of a row's plot area (in paper coordinates: an axis-domain ref
    would make plotly.js read x as a date near 1970 on a date axis)."""
    low, high = fig.layout[f"yaxis{'' if row == 1 else row}"].domain
    fig.add_annotation(xref="paper", yref="paper", x=0.5, y=(low + high) / 2, text=text,
                       showarrow=False, font={"color": "#777", "size": 12})


def trend_figure(trend: dict[str, Any]) -> go.Figure:
    """Recovery time and availability per scenario, one point per run, oldest first."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=("Recovery time (s)", "Availability during the fault"))
    for scenario, points in trend["scenarios"].items():
        runs = [p["run_id"] for p in points]
        fig.add_scatter(x=runs, y=[p["recovery_time_s"] for p in points], name=scenario,
                        legendgroup=scenario, mode="lines+markers", row=1, col=1)
        fig.add_scatter(x=runs, y=[p["availability"] for p in points], name=scenario,
                        legendgroup=scenario, showlegend=False, mode="lines+markers",
                        row=2, col=1)
    fig.update_yaxes(tickformat=".2%", row=2, col=1)
    fig.update_xaxes(type="category")
    fig.update_layout(height=640, template="plotly_white",
                      margin={"l": 60, "r": 20, "t": 40, "b": 40},
                      legend={"orientation": "h", "y": -0.15})
    return fig


def figure_div(fig: go.Figure, div_id: str) -> str:
    """The figure as a `<div>` plus its init script, without plotly.js."""
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=_CONFIG)
