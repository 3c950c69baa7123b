"""Burn rate: how fast a window spends the error budget, as a multiple of the sustainable pace.

burn = error ratio / (1 - SLO target). A burn of 1 spends exactly the budget over the SLO
period; Google's SRE workbook pages at 14.4 over one hour (2% of a 30-day budget). During a
game day it answers "would this fault have paged?" without waiting out a real SLO period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from gameday.errors import UsageError
from gameday.slo.availability import (
    BAD_CODES,
    LOAD_REQUESTS,
    RequestCounts,
    check_requests,
    collect_requests,
    error_ratio,
)
from gameday.slo.base import Indicator, Measurement, check_fraction, check_positive

if TYPE_CHECKING:
    from gameday.adapters.prometheus import PromClient


@dataclass(frozen=True)
class BurnRate(Indicator):
    """Error-budget burn over the window <= `max_burn`, for an SLO of `slo_target`."""

    slo_target: float
    max_burn: float
    total: str = LOAD_REQUESTS
    bad: str = BAD_CODES
    name: str = "burn-rate"

    kind: ClassVar[str] = "burn_rate"
    better: ClassVar = "lower"

    def __post_init__(self) -> None:
        check_fraction(f"burn-rate SLO {self.name!r}: slo_target", self.slo_target)
        if self.slo_target == 1:
            raise UsageError(f"burn-rate SLO {self.name!r}: slo_target 1 leaves no error "
                             "budget to burn; use Availability(1.0) instead")
        check_positive(f"burn-rate SLO {self.name!r}: max_burn", self.max_burn)
        check_requests(self.name, self.total, self.bad)

    def collect(self, prom: PromClient, start: float, end: float) -> RequestCounts:
        return collect_requests(prom, self.total, self.bad, start, end)

    def measure(self, data: RequestCounts, start: float, end: float) -> Measurement:
        ratio = error_ratio(data, start, end)
        value = None if ratio.value is None else ratio.value / (1.0 - self.slo_target)
        return Measurement(value, f"{ratio.note}, SLO {self.slo_target:.6g}", ratio.queries)

    def meets(self, value: float) -> bool:
        return value <= self.max_burn

    def threshold_text(self) -> str:
        return f"{self.max_burn:g}x"

    def value_text(self, value: float) -> str:
        return f"burn {value:.2f}x"
