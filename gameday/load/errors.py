"""The load's own error, a GamedayError so scenarios can catch every harness failure alike."""

from __future__ import annotations

from gameday.errors import GamedayError


class LoadError(GamedayError):
    """Locust could not be started, stopped or read; the message says where to look."""
