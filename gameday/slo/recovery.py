"""Recovery time: from the fault's injection until an SLI is back within target, and stays.

The SLI (an Availability, Latency or BurnRate) is measured over a short rolling window ending
at every step from one fetch of raw samples. The service counts as recovered from the *start*
of the first rolling window that meets the target, if every later window meets it for
`hold_s`; that start is when the service was good again, so a rolling window of several
scrapes (needed to have data in it) does not add its own length to the measurement. Resolution
is one step plus one scrape interval.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from gameday.errors import UsageError
from gameday.slo.base import (
    Indicator,
    Status,
    Verdict,
    Window,
    check_positive,
    comparison,
    make_verdict,
    partial_data,
)

if TYPE_CHECKING:
    from gameday.adapters.prometheus import PromClient


@dataclass(frozen=True)
class RecoveryTime:
    """Seconds from the window start (the injection) until `sli` recovered; <= `bound_s`.

    `rolling_s` must cover at least two scrapes, or rolling windows hold no data.
    """

    sli: Indicator
    bound_s: float
    hold_s: float = 10.0
    step_s: float = 1.0
    rolling_s: float = 5.0
    name: str = "recovery"

    kind: ClassVar[str] = "recovery_time"

    def __post_init__(self) -> None:
        if not isinstance(self.sli, Indicator):
            raise UsageError(f"recovery SLO {self.name!r}: sli must be an Availability, Latency "
                             f"or BurnRate, got {type(self.sli).__name__}")
        check_positive(f"recovery SLO {self.name!r}: bound_s", self.bound_s)
        check_positive(f"recovery SLO {self.name!r}: hold_s", self.hold_s, allow_zero=True)
        check_positive(f"recovery SLO {self.name!r}: step_s", self.step_s)
        if not self.rolling_s >= self.step_s:
            raise UsageError(f"recovery SLO {self.name!r}: rolling_s ({self.rolling_s}) must be "
                             f">= step_s ({self.step_s})")

    def target_text(self) -> str:
        return f"<= {self.bound_s:g} s"

    def for_scrape_interval(self, interval_s: float) -> RecoveryTime:
        """This SLO with rolling windows stretched to span two scrapes at `interval_s`
        (plus a second): shorter windows hold no sample and can only be inconclusive."""
        least = 2 * interval_s + 1
        return self if self.rolling_s >= least else dataclasses.replace(self, rolling_s=least)

    def evaluate(self, prom: PromClient, window: Window) -> Verdict:
        """Measure recovery over the window: its start is the injection instant."""
        start, end = window.start.timestamp(), window.end.timestamp()
        seen = len(prom.warnings)
        data = self.sli.collect(prom, start - self.rolling_s, end)
        count = math.floor((end - start - self.rolling_s) / self.step_s + 1e-9) + 1
        ends = [start + self.rolling_s + i * self.step_s for i in range(max(count, 0))]
        measures = [self.sli.measure(data, t - self.rolling_s, t) for t in ends]
        queries = measures[0].queries if measures else ()
        how = (f"{self.sli.name} {self.sli.target_text()} over rolling {self.rolling_s:g} s "
               f"windows, held {self.hold_s:g} s")
        values = [m.value for m in measures]
        if all(v is None for v in values):
            note = measures[-1].note if measures else \
                f"the window is shorter than rolling_s {self.rolling_s:g} s"
            status, text, measured = Status.INCONCLUSIVE, f"no data ({note}; {how})", None
        else:
            measured = self._recovered(ends, values, start)
            if measured is None and len(values) <= self._hold_steps:
                status, text = Status.INCONCLUSIVE, (
                    f"the observed {end - start:.0f} s cannot show a recovery held "
                    f"{self.hold_s:g} s over rolling {self.rolling_s:g} s windows: observe for "
                    f"at least {self.rolling_s + self.hold_s + self.step_s:g} s")
            elif measured is None:
                last = values[-1]
                shown = "no data" if last is None else self.sli.value_text(last)
                status, text = Status.FAIL, (
                    f"never recovered within the observed range ({how}); at its end: {shown}")
                if self._gaps_could_hide_recovery(values):
                    missing = sum(v is None for v in values)
                    status, text = Status.INCONCLUSIVE, (
                        f"no recovery seen, but {missing} of {len(values)} rolling windows had "
                        f"no data and could hide one ({how}; rolling_s must span two scrapes)")
            else:
                ok = measured <= self.bound_s
                status = Status.PASS if ok else Status.FAIL
                text = (f"recovered after {measured:.1f} s {comparison('lower', ok)} target "
                        f"{self.bound_s:g} s ({how})")
        status, text = partial_data(prom, seen, status, text)
        return make_verdict(self, window, measured, status, text, queries)

    @property
    def _hold_steps(self) -> int:
        """How many steps after a good window must also be good for the recovery to hold."""
        return math.ceil(self.hold_s / self.step_s - 1e-9)

    def _first_held(self, ok: list[bool]) -> int | None:
        """Index of the first window that is ok and stays ok for hold_s, or None."""
        need = self._hold_steps
        return next((i for i in range(len(ok) - need) if all(ok[i:i + need + 1])), None)

    def _gaps_could_hide_recovery(self, values: list[float | None]) -> bool:
        """True if some hold-long stretch has no window that missed the target, only windows
        without data: no data is never a pass, and it is not a failure either."""
        return self._first_held([v is None or self.sli.meets(v) for v in values]) is not None

    def _recovered(self, ends: list[float], values: list[float | None],
                   start: float) -> float | None:
        """Seconds from start to the first rolling window start that stays good for hold_s."""
        i = self._first_held([v is not None and self.sli.meets(v) for v in values])
        return None if i is None else ends[i] - self.rolling_s - start
