"""Bounded waits for lab components, each failing with the component's own last log lines."""

from __future__ import annotations

import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from gameday.errors import LabError
from gameday.lab.procs import ProcRecord, tail


def free_port() -> int:
    """A port nobody listens on right now on 127.0.0.1 (the kernel picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_taken(port: int) -> bool:
    """True when something listens on the port (TIME_WAIT leftovers do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def listening_blocks() -> set[int]:
    """Second octets B of every 127.B.x.y address something listens on (TCP, IPv4).

    A lab owns 127.B.0.0/16 for its nodes and pods; a listener inside another lab's block
    means two labs would hand out the same pod addresses.
    """
    blocks = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            local, state = line.split()[1], line.split()[3]
            if state == "0A":  # LISTEN
                ip_hex = local.split(":")[0]
                octets = [int(ip_hex[i:i + 2], 16) for i in (6, 4, 2, 0)]  # little endian
                if octets[0] == 127:
                    blocks.add(octets[1])
    return blocks


def http_ok(url: str, token: str | None = None, ca_file: Path | None = None,
            timeout_s: float = 2.0) -> bool:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    ctx = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=timeout_s, context=ctx) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False


def until(what: str, check: Callable[[], bool], timeout_s: float, proc: ProcRecord | None = None,
          interval_s: float = 0.1) -> float:
    """Poll `check` until true; return seconds waited. Fails fast if `proc` dies meanwhile."""
    t0 = time.monotonic()
    while True:
        if check():
            return time.monotonic() - t0
        if proc is not None and not proc.alive():
            raise LabError(f"{proc.name} exited while waiting for {what}; "
                           f"last lines of {proc.log}:\n{tail(proc.log)}")
        if time.monotonic() - t0 > timeout_s:
            hint = f"; last lines of {proc.log}:\n{tail(proc.log)}" if proc else ""
            raise LabError(f"timed out after {timeout_s:.0f}s waiting for {what}{hint}")
        time.sleep(interval_s)
