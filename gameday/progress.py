"""One-line progress for long steps: a spinner with elapsed time on a terminal, plain lines in CI.

Users should never stare at a silent terminal for minutes (the Kubernetes build takes ~5), and
CI logs should not fill with carriage returns.
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TextIO

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Step:
    """`with Step("building kube-apiserver"): ...` prints progress, then ✓ or ✗ with the time."""

    def __init__(self, label: str, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.label = label
        self.detail = ""
        self._stream = stream or sys.stderr
        self._quiet = quiet
        self._tty = self._stream.isatty()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0

    def update(self, detail: str) -> None:
        """Set the text shown after the label (e.g. the current sub-step); cheap to call often."""
        self.detail = detail.strip()[:80]

    def __enter__(self) -> Step:
        self._t0 = time.monotonic()
        if self._quiet:
            return self
        if self._tty:
            self._thread = threading.Thread(target=self._spin, daemon=True)
            self._thread.start()
        else:
            print(f"… {self.label}", file=self._stream, flush=True)
        return self

    def _spin(self) -> None:
        i = 0
        while not self._stop.wait(0.1):
            elapsed = time.monotonic() - self._t0
            extra = f" — {self.detail}" if self.detail else ""
            line = f"\r{FRAMES[i % len(FRAMES)]} {self.label} ({elapsed:.0f}s){extra}"
            self._stream.write(line[:120].ljust(120))
            self._stream.flush()
            i += 1

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        if self._quiet:
            return
        elapsed = time.monotonic() - self._t0
        mark = "✓" if exc_type is None else "✗"
        prefix = "\r" + " " * 120 + "\r" if self._tty else ""
        print(f"{prefix}{mark} {self.label} ({elapsed:.1f}s)", file=self._stream, flush=True)
