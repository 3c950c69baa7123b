"""What every long-running lab process shares: run an asyncio service until SIGTERM/SIGINT, and
turn our own errors into one log line and exit code 1 (a traceback is kept for real bugs)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from gameday.errors import GamedayError


async def until_signalled() -> None:
    """Return once SIGTERM or SIGINT arrives (`lab down` sends SIGTERM)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def run(serve: Callable[[], Awaitable[None]], log: logging.Logger, level: str = "INFO") -> int:
    """Configure logging, run `serve()` to completion; exit code 1 on a GamedayError."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve())
    except GamedayError as exc:
        log.error("%s", exc)
        return 1
    return 0
