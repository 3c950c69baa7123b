"""Live progress of a game day on the terminal, while pytest captures the test's own output.

A zone outage runs for a minute or more and pytest shows nothing until the test ends, so a user
could not tell a fault in progress from a hang, nor see a dry run's plans. The narrator prints
one short line per step that matters (phase, load, fault action, SLO verdict) with the time
since the test started. The pytest plugin gives it a writer that goes around the capture (as
pytest's live logging does); `-qq` silences it. Kubernetes events stay out: there are dozens per
fault, and the report has them all.

Lines are written only from the main thread: suspending pytest's capture from a fault's watcher
thread would race the test's own output. Lines from other threads wait for the main thread's
next line or `flush()` (GameDay's hold loop calls it twice a second).
"""

from __future__ import annotations

import collections
import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from gameday.slo.base import measured_text

if TYPE_CHECKING:
    from gameday.evidence import Event
    from gameday.slo import Verdict

QUIET_KINDS = ("k8s.", "phase.end")  # cluster events; a phase's end is the next one's start


class Narrator:
    """Where live progress goes: `write(line)` for a line, `live()` for a block whose own
    output (the lab's start-up spinner) must reach the terminal. Defaults: stderr, as is."""

    def __init__(self, write: Callable[[str], None] | None = None,
                 live: Callable[[], AbstractContextManager[object]] | None = None,
                 quiet: bool = False) -> None:
        self._write = write or _stderr_line
        self._live = live or contextlib.nullcontext
        self.quiet = quiet
        self._pending: collections.deque[str] = collections.deque()

    def say(self, message: str) -> None:
        """A line of progress (each line of a multi-line message indented under the first)."""
        if self.quiet:
            return
        first, *rest = message.splitlines() or [""]
        self._pending.append(f"gameday: {first}")
        self._pending.extend(f"gameday:     {line}" for line in rest)
        self.flush()

    def flush(self) -> None:
        """Write what other threads said; a no-op outside the main thread."""
        if threading.current_thread() is not threading.main_thread():
            return
        while self._pending:
            self._write(self._pending.popleft())

    @contextlib.contextmanager
    def live(self) -> Iterator[None]:
        """Let the block's own stdout/stderr reach the terminal (nothing changes under quiet)."""
        if self.quiet:
            yield
            return
        self.flush()
        with self._live():
            yield

    def for_test(self, name: str) -> TestNarration:
        return TestNarration(self, name)


class TestNarration:
    """One test's narration: an evidence observer printing its steps, timed from its start."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, narrator: Narrator, name: str) -> None:
        self._narrator = narrator
        self._t0 = time.monotonic()
        narrator.say(name)

    def _say(self, text: str) -> None:
        self._narrator.say(f"{time.monotonic() - self._t0:6.1f}s  {text}")

    def event(self, event: Event) -> None:
        if event.kind.startswith(QUIET_KINDS):
            return
        if event.kind == "phase.start":
            self._say(f"── {event.message} ──")
        else:
            self._say(f"{event.kind}: {event.message}")

    def verdict(self, verdict: Verdict) -> None:
        measured = measured_text(verdict.kind, verdict.measured)
        self._say(f"SLO {verdict.slo_name} [{verdict.phase}]: {verdict.status.value.upper()} "
                  f"(measured {measured}, target {verdict.target})")


def _stderr_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
