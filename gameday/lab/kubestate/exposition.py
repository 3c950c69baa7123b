"""A minimal Prometheus text-format (0.0.4) writer for series computed from plain data.

prometheus-client's registry model (long-lived metric objects that are mutated) fits an app
counting its own events, not an exporter that re-derives every series from a cache on each
scrape; this writer takes families of (labels, value) and nothing else, so rendering stays a pure
function that tests parse back with `prometheus_client.parser`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = Mapping[str, str]


@dataclass
class Family:
    """One metric family: its name, type and help, and the samples gathered for it."""

    name: str
    type: str  # "gauge" or "counter" (a counter's name ends in _total, as kube-state-metrics')
    help: str
    samples: list[tuple[Labels, float]] = field(default_factory=list)

    def add(self, labels: Labels, value: float) -> None:
        self.samples.append((labels, value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if value != int(value) else str(int(value))


def render(families: Iterable[Family]) -> str:
    """The text exposition of the families, HELP and TYPE first, in the order given."""
    lines: list[str] = []
    for fam in families:
        lines.append(f"# HELP {fam.name} {fam.help}")
        lines.append(f"# TYPE {fam.name} {fam.type}")
        for labels, value in fam.samples:
            body = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
            lines.append(f"{fam.name}{{{body}}} {_number(value)}")
    lines.append("")
    return "\n".join(lines)
