"""Exact counter increases over a window, computed from raw samples rather than `increase()`.

Why not `sum(increase(x[w]))`: Prometheus extrapolates `increase` to the window's edges, and a
series that first appears inside the window (prometheus-client creates a `code="503"` child on
the first failure, with value 1 or more already) contributes nothing from its first sample, so
the first errors of an outage vanish exactly when they matter. Here each series' increase is
taken from its last sample at or before the window start (its value `@ start`) to its last
sample in the window, a series born inside the window counts from 0, and a drop is a counter
reset (the new value is all increase). The window is thus shifted by at most one scrape
interval, never extrapolated.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gameday.promql import scoped

if TYPE_CHECKING:
    from gameday.adapters.prometheus import PromClient

LabelKey = frozenset[tuple[str, str]]

def key(labels: dict[str, str] | object) -> LabelKey:
    return frozenset(dict(labels).items())  # type: ignore[call-overload]


@dataclass(frozen=True)
class CounterSamples:
    """Raw samples of counter series over [start, end] and each series' value at `start`."""

    selector: str
    start: float
    end: float
    baseline: dict[LabelKey, float]
    points: dict[LabelKey, list[tuple[float, float]]]
    queries: tuple[str, ...]

    @classmethod
    def fetch(cls, prom: PromClient, selector: str, start: float, end: float
              ) -> CounterSamples:
        """Two queries: the value of each series `@ start` and its raw samples in the window."""
        from gameday.adapters.prometheus import duration

        selector = scoped(selector, prom.scope)
        at_start = f"{selector} @ {start:.3f}"
        raw = f"{selector}[{duration(end - start)}] @ {end:.3f}"
        baseline = {key(s.labels): s.value for s in prom.query(at_start, at=start)}
        points = {key(s.labels): [p for p in s.points if p[0] > start]
                  for s in prom.samples(selector, start, end)}
        return cls(selector, start, end, baseline, points, (at_start, raw))

    @property
    def has_series(self) -> bool:
        return bool(self.points) or bool(self.baseline)

    def increase(self, series: LabelKey, start: float, end: float) -> float:
        """Increase of one series over (start, end], a sub-interval of the fetched window."""
        pts = self.points.get(series, [])
        before = [v for t, v in pts if t <= start]
        # No sample since the fetch start: the value then, or 0 for a series born later.
        last = before[-1] if before else self.baseline.get(series, 0.0)
        total = 0.0
        for t, v in pts:
            if start < t <= end and not math.isnan(v):
                total += v - last if v >= last else v  # a drop is a reset from 0
                last = v
        return total

    def increase_by(self, label: str, start: float, end: float) -> dict[str, float]:
        """Summed increases grouped by one label's value (e.g. `le` for histogram buckets)."""
        out: dict[str, float] = defaultdict(float)
        for series in self.points.keys() | self.baseline.keys():
            out[dict(series).get(label, "")] += self.increase(series, start, end)
        return dict(out)

    def total(self, start: float, end: float) -> float:
        """Summed increase of every series over (start, end]."""
        return sum(self.increase(s, start, end) for s in self.points.keys() | self.baseline.keys())
