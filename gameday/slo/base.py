"""What every SLO shares: the window it is judged over, the verdict it gives, and how it judges.

A verdict is PASS, FAIL or INCONCLUSIVE, and **no data is never a pass**: an empty result, a 0/0
ratio or a warning of partial data from Prometheus gives INCONCLUSIVE, naming the query, so a
game day that measured nothing cannot look green. Messages are written for a reviewer who reads
the report, not the code: what was measured, when, against which target, from which query.
"""

from __future__ import annotations

import abc
import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from gameday.errors import UsageError

if TYPE_CHECKING:
    from gameday.adapters.prometheus import PromClient

PHASES = ("baseline", "fault", "recovery")
"""The phases a game day names; scenarios may add their own (any non-empty name)."""


@dataclass(frozen=True)
class Window:
    """The interval an SLO is judged over: one phase of the game day, in UTC."""

    phase: str
    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if not self.phase:
            raise UsageError(f"a window needs a phase name, e.g. one of {', '.join(PHASES)}")
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, dt.datetime) or value.utcoffset() is None:
                raise UsageError(f"window {self.phase!r}: {name} must be a timezone-aware "
                                 f"datetime, got {value!r}")
        if self.end <= self.start:
            raise UsageError(f"window {self.phase!r} ends ({self.end.isoformat()}) before it "
                             f"starts ({self.start.isoformat()})")

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def describe(self) -> str:
        """'fault (12:00:05-12:00:35 UTC)': the phase and its clock times."""
        fmt = "%H:%M:%S" if self.start.date() == self.end.date() else "%Y-%m-%d %H:%M:%S"
        s, e = self.start.astimezone(dt.UTC), self.end.astimezone(dt.UTC)
        return f"{self.phase} ({s.strftime(fmt)}-{e.strftime(fmt)} UTC)"

    def to_dict(self) -> dict[str, str]:
        return {"phase": self.phase, "start": self.start.isoformat(),
                "end": self.end.isoformat()}


class Status(enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Verdict:
    """One SLO judged over one window. `measured` is in the SLO's unit (a ratio, seconds)."""

    slo_name: str
    kind: str
    phase: str
    target: str
    measured: float | None
    status: Status
    promql: str
    window: Window
    message: str
    prometheus: str = ""  # the URL that answered (client- and server-side SLIs can differ)

    @property
    def passed(self) -> bool:
        return self.status is Status.PASS

    def raise_for_status(self) -> None:
        """AssertionError with the message unless the verdict is PASS."""
        if not self.passed:
            raise AssertionError(self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"slo_name": self.slo_name, "kind": self.kind, "phase": self.phase,
                "target": self.target, "measured": self.measured,
                "status": self.status.value, "promql": self.promql,
                "window": self.window.to_dict(), "message": self.message,
                "prometheus": self.prometheus}


def assert_slos(verdicts: Iterable[Verdict]) -> None:
    """Raise one AssertionError listing every verdict that is not PASS (pytest prints it).

    An empty list raises too: a game day that judged nothing has shown nothing.
    """
    verdicts = list(verdicts)
    if not verdicts:
        raise AssertionError("no SLO verdicts to assert: evaluate the SLOs over a phase first")
    bad = [v for v in verdicts if not v.passed]
    if bad:
        lines = "\n".join(f"  - [{v.status.value.upper()}] {v.message}" for v in bad)
        raise AssertionError(f"{len(bad)} of {len(verdicts)} SLO verdicts not met:\n{lines}")


@dataclass(frozen=True)
class Measurement:
    """An SLI's value over one interval; value None means no data, `note` says why or how."""

    value: float | None
    note: str = ""
    queries: tuple[str, ...] = field(default=())


class Indicator(abc.ABC):
    """An SLO over a service level indicator measured from Prometheus data.

    Subclasses say how to fetch the data once for a span (`collect`), how to measure the SLI
    over any sub-interval of it (`measure`: RecoveryTime measures many rolling windows from one
    fetch), and what meeting the target means.
    """

    kind: ClassVar[str]
    better: ClassVar[Literal["higher", "lower"]]
    name: str

    @abc.abstractmethod
    def collect(self, prom: PromClient, start: float, end: float) -> Any:
        """Fetch what `measure` needs for any interval inside [start, end] (unix seconds)."""

    @abc.abstractmethod
    def measure(self, data: Any, start: float, end: float) -> Measurement:
        """The SLI over (start, end] from collected data."""

    @abc.abstractmethod
    def meets(self, value: float) -> bool:
        """Whether a measured value meets the target."""

    @abc.abstractmethod
    def threshold_text(self) -> str:
        """The bound a value is compared with, for humans, e.g. '99.0%' or '0.25 s'."""

    def target_text(self) -> str:
        """The whole target for humans, e.g. '>= 99.0%'."""
        return f"{comparison(self.better, True)} {self.threshold_text()}"

    @abc.abstractmethod
    def value_text(self, value: float) -> str:
        """A measured value for humans, e.g. '97.2%' or '0.412 s'."""

    def evaluate(self, prom: PromClient, window: Window) -> Verdict:
        """Judge the SLO over the window. INCONCLUSIVE without data or on partial data."""
        start, end = window.start.timestamp(), window.end.timestamp()
        seen = len(prom.warnings)
        m = self.measure(self.collect(prom, start, end), start, end)
        if m.value is None:
            status, text = Status.INCONCLUSIVE, f"no data ({m.note})"
        else:
            ok = self.meets(m.value)
            status = Status.PASS if ok else Status.FAIL
            text = f"{self.value_text(m.value)} {comparison(self.better, ok)} target " \
                   f"{self.threshold_text()}" + (f" ({m.note})" if m.note else "")
        status, text = partial_data(prom, seen, status, text)
        return make_verdict(self, window, m.value, status, text, m.queries)


def partial_data(prom: PromClient, seen: int, status: Status, text: str) -> tuple[Status, str]:
    """Downgrade a PASS to INCONCLUSIVE if Prometheus warned (partial data) since `seen`."""
    warnings = prom.warnings[seen:]
    if warnings and status is Status.PASS:
        return Status.INCONCLUSIVE, text + "; Prometheus warned the data may be partial: " + \
            "; ".join(w.text for w in warnings)
    return status, text


def comparison(better: Literal["higher", "lower"], ok: bool) -> str:
    if better == "higher":
        return ">=" if ok else "<"
    return "<=" if ok else ">"


def measured_text(kind: str, value: float | None) -> str:
    """A verdict's measured value in its unit: a ratio as %, a burn rate as a
    multiple, else seconds."""
    if value is None:
        return "no data"
    if kind == "availability":
        return f"{100 * value:.3f}%"
    if kind == "burn_rate":
        return f"{value:.2f}\N{MULTIPLICATION SIGN}"
    return f"{value:.3f} s"


def make_verdict(slo: Any, window: Window, measured: float | None, status: Status, text: str,
                 queries: Iterable[str]) -> Verdict:
    """A Verdict whose message reads 'kind during phase (times UTC): text — query: ...'."""
    promql = "; ".join(queries)
    return Verdict(slo_name=slo.name, kind=slo.kind, phase=window.phase,
                   target=slo.target_text(), measured=measured, status=status, promql=promql,
                   window=window,
                   message=f"{slo.name} during {window.describe()}: {text} — query: {promql}")


def check_fraction(what: str, value: float, *, allow_zero: bool = False) -> None:
    """UsageError unless value is in (0, 1] ([0, 1] with allow_zero)."""
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value <= 1):
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise UsageError(f"{what} must be in {interval} (e.g. 0.99 for 99%), got {value!r}")


def check_positive(what: str, value: float, *, allow_zero: bool = False) -> None:
    """UsageError unless value > 0 (>= 0 with allow_zero)."""
    if not (value >= 0 if allow_zero else value > 0):
        bound = ">= 0" if allow_zero else "> 0"
        raise UsageError(f"{what} must be {bound}, got {value!r}")
