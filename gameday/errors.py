"""The one error tree of gameday, so callers catch by meaning.

    GamedayError
    ├── UsageError            bad input from the user (options, scenario data); fix and re-run
    ├── LabError              the embedded lab could not be installed, started or reached
    │   ├── LabNotRunning
    │   └── LabAlreadyRunning
    ├── SafetyError           a destructive action was refused before any write
    ├── ConditionTimeout      something we waited for did not happen in time
    ├── FaultError            a fault could not be injected or reverted
    ├── LoadError             Locust could not be started, stopped or read
    └── SloError              an SLO could not be evaluated (inconclusive) or is malformed

Every message should tell the user what to do next, not only what went wrong.
"""

from __future__ import annotations


class GamedayError(Exception):
    """Root of every error gameday raises on purpose."""


class UsageError(GamedayError):
    """The user asked for something impossible or malformed; nothing was changed."""


class LabError(GamedayError):
    """The embedded lab could not be installed, started, stopped or reached."""


class LabNotRunning(LabError):
    """An operation needs a running lab and there is none in the state folder."""


class LabAlreadyRunning(LabError):
    """`lab up` found a lab already running in the same state folder."""


class SafetyError(GamedayError):
    """A destructive action was refused (context not allowed, blast radius exceeded)."""


class ConditionTimeout(GamedayError):
    """A condition did not hold before its deadline; carries what was last observed."""

    def __init__(self, what: str, timeout_s: float, last_seen: object = None) -> None:
        self.what = what
        self.timeout_s = timeout_s
        self.last_seen = last_seen
        detail = f"; last seen: {last_seen}" if last_seen is not None else ""
        super().__init__(f"timed out after {timeout_s:g}s waiting for {what}{detail}")


class FaultError(GamedayError):
    """A fault failed to inject or revert."""


class LoadError(GamedayError):
    """Locust could not be started, stopped or read; the message says where to look."""


class SloError(GamedayError):
    """An SLO is malformed or could not be evaluated."""
