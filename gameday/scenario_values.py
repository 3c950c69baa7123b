"""Scenario values given as `--gameday-set KEY=VALUE`: parsed by the type of the scenario's
default, and every key accounted for.

Why typed by the default: `bool("false")` is True, so a plain `type(default)(raw)` turned
`--gameday-set x=false` into True. Why every key accounted for: a typo (`faul_s=30`) would
otherwise run the game day with the default and say nothing.

When a key is "unknown" can only be told late: a scenario reads some values inside its fault
block (`fault_s` while the zone is down), and one run may hold several scenarios that read
different keys. So the run records every name asked for (`Overrides.get`), and at the end of
the session a key no scenario asked for is a usage error that names it and the known keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from gameday.errors import UsageError

T = TypeVar("T")

TRUE = ("true", "yes", "on", "1")
FALSE = ("false", "no", "off", "0")


def parse(key: str, raw: str, default: T) -> T:
    """`raw` as a value of `default`'s type: bool (true/false, yes/no, on/off, 1/0), int,
    float, str, or a tuple/list of those (comma-separated, typed like the first element)."""
    if isinstance(default, bool):  # before int: bool is an int
        word = raw.strip().lower()
        if word in TRUE or word in FALSE:
            return word in TRUE  # type: ignore[return-value]
        raise UsageError(f"--gameday-set {key}={raw!r}: expected a bool "
                         f"({'/'.join(TRUE)} or {'/'.join(FALSE)})")
    if isinstance(default, tuple | list):
        item = default[0] if default else ""
        parts = [parse(key, part.strip(), item) for part in raw.split(",") if part.strip()]
        return type(default)(parts)  # type: ignore[return-value]
    if isinstance(default, int | float | str):
        try:
            return type(default)(raw.strip() if not isinstance(default, str) else raw)
        except ValueError:
            raise UsageError(f"--gameday-set {key}={raw!r}: expected a "
                             f"{type(default).__name__} like {default!r}") from None
    raise UsageError(f"--gameday-set {key}: a {type(default).__name__} value cannot be set "
                     "from the command line (bool, int, float, str or a list of those can)")


class Overrides:
    """The run's `--gameday-set` values, with the names scenarios asked for."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.asked: set[str] = set()
        self.scenario_ran = False  # a scenario body ran: its reads are in `asked`

    def get(self, key: str) -> str | None:
        """The raw value of `key`, if set; either way `key` becomes a known one."""
        self.asked.add(key)
        return self._values.get(key)

    def fields(self, name: str) -> dict[str, str]:
        """`NAME.FIELD=VALUE` overrides of one named object (an SLO), by field."""
        out = {}
        for key, raw in self._values.items():
            prefix, _, field = key.partition(".")
            if field and prefix == name:
                self.asked.add(key)
                out[field] = raw
        self.asked.add(f"{name}.<field>")
        return out

    def unknown(self) -> str | None:
        """The error for keys no scenario asked for, once a scenario ran (else None)."""
        unread = sorted(set(self._values) - self.asked)
        if not unread or not self.scenario_ran:
            return None
        known = ", ".join(sorted(self.asked)) or "(none)"
        keys = ", ".join(unread)
        return (f"--gameday-set {keys}: no scenario of this run reads "
                f"{'it' if len(unread) == 1 else 'them'}, so the run used the defaults "
                f"(a typo?); known keys: {known}")

