"""Bounded waits: poll a read-only probe with tenacity until it holds, or raise ConditionTimeout.

Why not watches: a watch can miss an event and then never wake; a bounded poll of the current
state cannot. The probe returns the value to hand back once the condition holds and None
otherwise; its last observation is carried into the timeout so the user sees where it stuck.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from gameday.errors import ConditionTimeout

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], *, timeout: float,
             interval: float = 0.5, describe: Callable[[], object] | None = None) -> T:
    """Return probe()'s first non-None value; ConditionTimeout(what, timeout, last seen) else.

    `describe` (optional) says what was last observed, for the timeout message.
    """
    last: list[object] = [None]

    def attempt() -> T | None:
        value = probe()
        if value is None and describe is not None:
            last[0] = describe()
        return value

    retrying = Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(interval),
                        retry=retry_if_result(lambda v: v is None), reraise=False)
    try:
        return retrying(attempt)  # type: ignore[return-value]
    except RetryError as exc:
        raise ConditionTimeout(what, timeout, last[0]) from exc


def since(start: float) -> float:
    """Seconds elapsed since a time.monotonic() stamp, rounded for timelines."""
    return round(time.monotonic() - start, 3)
