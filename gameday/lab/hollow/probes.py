"""Kubelet probe semantics as a pure state machine, and the probe actions that feed it.

Kept free of I/O timing so the rules (initial delay, period, success/failure thresholds) are unit
tested exactly; the pod runner only asks "is a probe due?" and reports results.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp


@dataclass(frozen=True)
class ProbeSpec:
    """A container probe as the API defines it, with the API's defaults."""

    kind: str  # "http", "tcp" or "exec"
    port: int | None = None
    path: str = "/"
    initial_delay_s: float = 0
    period_s: float = 10
    timeout_s: float = 1
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def from_api(cls, probe: dict, ports: dict[str, int]) -> ProbeSpec:
        """Build from a pod spec probe; named ports resolve through the container's ports."""
        if "httpGet" in probe:
            kind, action = "http", probe["httpGet"]
        elif "tcpSocket" in probe:
            kind, action = "tcp", probe["tcpSocket"]
        else:
            kind, action = "exec", {}
        port = action.get("port")
        if isinstance(port, str) and not port.isdigit():
            port = ports.get(port)
        return cls(
            kind=kind,
            port=int(port) if port is not None else None,
            path=action.get("path", "/"),
            initial_delay_s=probe.get("initialDelaySeconds", 0),
            period_s=probe.get("periodSeconds", 10),
            timeout_s=probe.get("timeoutSeconds", 1),
            success_threshold=probe.get("successThreshold", 1),
            failure_threshold=probe.get("failureThreshold", 3),
        )


class ProbeState:
    """Tracks one probe of one container: when it is due and what it currently says."""

    def __init__(self, spec: ProbeSpec, started_at: float, initially: bool) -> None:
        self.spec = spec
        self.ok = initially  # readiness starts False, liveness starts True (as in the kubelet)
        self._successes = 0
        self._failures = 0
        self.next_due = started_at + spec.initial_delay_s

    def due(self, now: float) -> bool:
        return now >= self.next_due

    def record(self, success: bool, now: float) -> bool:
        """Apply one result; returns True when `ok` flipped."""
        self.next_due = now + self.spec.period_s
        if success:
            self._successes += 1
            self._failures = 0
            if not self.ok and self._successes >= self.spec.success_threshold:
                self.ok = True
                return True
        else:
            self._failures += 1
            self._successes = 0
            if self.ok and self._failures >= self.spec.failure_threshold:
                self.ok = False
                return True
        return False


async def run_probe(spec: ProbeSpec, host: str, session: aiohttp.ClientSession) -> bool:
    """Execute a probe against a real process; `exec` probes are simulated as passing."""
    if spec.kind == "exec" or spec.port is None:
        return True
    try:
        if spec.kind == "http":
            url = f"http://{host}:{spec.port}{spec.path}"
            timeout = aiohttp.ClientTimeout(total=spec.timeout_s)
            async with session.get(url, timeout=timeout, allow_redirects=False) as resp:
                return 200 <= resp.status < 400
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, spec.port),
                                           spec.timeout_s)
        writer.close()
        return True
    except (aiohttp.ClientError, OSError, TimeoutError):
        return False
