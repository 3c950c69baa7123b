"""The small part of GCE's list `filter` syntax the lab understands.

Supported: clauses `field = "value"`, `field != value`, `field eq regex`, `field ne regex`,
optionally in parentheses, joined by AND; `field` may be a dotted path (`labels.env`,
`scheduling.preemptible`). Anything else is refused with a 400 that says so, rather than
silently matching everything — a game day that filtered wrongly would act on the wrong VMs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gameday.lab.compute.errors import invalid

_CLAUSE = re.compile(
    r'^\(?\s*([A-Za-z][\w.-]*)\s*(!=|=|\beq\b|\bne\b)\s*("([^"]*)"|[^\s()"]+)\s*\)?$')
_AND = re.compile(r"\)?\s+AND\s+\(?|\)\s*\(", re.IGNORECASE)


@dataclass(frozen=True)
class Clause:
    """One comparison of a resource field with a literal (or a regex for eq/ne)."""

    path: tuple[str, ...]
    op: str
    value: str

    def holds(self, resource: dict[str, Any]) -> bool:
        """Whether the clause is true of the resource's JSON."""
        actual = _lookup(resource, self.path)
        if self.op in ("=", "!="):
            hit = actual is not None and _text(actual) == self.value
        else:
            hit = actual is not None and re.fullmatch(self.value, _text(actual)) is not None
        return hit if self.op in ("=", "eq") else not hit


def parse(expr: str | None) -> list[Clause]:
    """Clauses of a filter expression; empty for no filter; 400 for syntax we don't support."""
    if not expr or not expr.strip():
        return []
    clauses = []
    for part in _AND.split(expr.strip()):
        m = _CLAUSE.match(part.strip())
        if m is None:
            raise invalid("filter", f"the lab supports only 'field = value' clauses joined by "
                                    f"AND, not {part.strip()!r}")
        value = m.group(4) if m.group(4) is not None else m.group(3)
        clauses.append(Clause(tuple(m.group(1).split(".")), m.group(2), value))
    return clauses


def select(resources: list[dict[str, Any]], expr: str | None) -> list[dict[str, Any]]:
    """The resources every clause of `expr` holds for."""
    clauses = parse(expr)
    return [r for r in resources if all(c.holds(r) for c in clauses)]


def _lookup(resource: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = resource
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
