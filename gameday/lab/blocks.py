"""Which 127.B.0.0/16 block a new lab takes, safe against labs that start at the same moment.

A lab owns 127.B.0.0/16 for its nodes and pods. Listening sockets show the blocks of running
labs, but not of a lab still starting (its pods listen only a minute later): two `lab up` at
once both saw the same block free and handed out the same pod addresses (seen: one test
session's Locust swarm driven into another lab's master pod). So the pick happens under an
exclusive lock, and the picked block is reserved in a file for the start-up window; after
that the lab's own listeners keep it taken.
"""

from __future__ import annotations

import fcntl
import tempfile
import time
from pathlib import Path

from gameday.errors import UsageError
from gameday.lab.config import SERVICE_BLOCK
from gameday.lab.waits import listening_blocks

REGISTRY = Path(tempfile.gettempdir()) / "gameday-lab-blocks"
RESERVED_S = 600.0  # longer than any `lab up`; by then the lab's pods listen in the block
FIRST_BLOCK = 20


def reserve(requested: int | None) -> int:
    """The requested block if free, else the first free one from FIRST_BLOCK up; reserved
    for RESERVED_S so a lab starting meanwhile picks another."""
    REGISTRY.mkdir(parents=True, exist_ok=True)
    with open(REGISTRY / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        busy = listening_blocks() | _recently_reserved()
        if requested is not None:
            if requested in busy:
                raise UsageError(f"127.{requested}.0.0/16 is in use (something listens on a "
                                 f"127.{requested}.x.y address, or a lab starting now took "
                                 "it): choose another --ip-block or leave it out to pick a "
                                 "free one")
            block = requested
        else:
            block = next((b for b in range(FIRST_BLOCK, 250)
                          if b not in busy and b != SERVICE_BLOCK), None)
            if block is None:
                raise UsageError("no free 127.B.0.0/16 block left for a lab on this machine")
        (REGISTRY / str(block)).touch()
        return block


def _recently_reserved() -> set[int]:
    now = time.time()
    return {int(f.name) for f in REGISTRY.iterdir()
            if f.name.isdigit() and now - f.stat().st_mtime < RESERVED_S}
