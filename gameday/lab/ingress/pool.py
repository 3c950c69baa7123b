"""Runtime state of the backend services: endpoints, their health, and who gets the next request.

A new configuration (from the watcher, or from a test) is applied as a diff so that an endpoint
that stays keeps its health history: only new endpoints start UNKNOWN and must pass a check. An
endpoint that left the EndpointSlice stays in the pool for `detach_delay_s` (NEG detach: on GKE
ingress-gce must sync the NEG and GCLB reprogram before traffic stops; until then only the
health check protects clients from a dead pod), then leaves. No I/O here: the prober feeds
results in, the proxy asks `pick`, the load balancer calls `expire` on a timer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from gameday.lab.ingress.healthcheck import CheckResult, EndpointHealth, HealthCheckSettings
from gameday.lab.ingress.translate import BackendServiceSpec, EndpointSpec, LbConfig


@dataclass
class EndpointState:
    """One endpoint of one backend service, with its health as that service checks it."""

    spec: EndpointSpec
    health: EndpointHealth = field(default_factory=EndpointHealth)
    detach_at: float | None = None  # monotonic time it leaves the pool; None while attached


@dataclass(frozen=True)
class PoolChange:
    """What `BackendPool.apply` changed, for the prober and the metrics."""

    added: tuple[tuple[str, str], ...] = ()  # (backend service, address)
    removed: tuple[tuple[str, str], ...] = ()
    settings_changed: frozenset[str] = frozenset()


class BackendService:
    """A backend service's endpoints, picked round robin among the healthy ones."""

    def __init__(self, spec: BackendServiceSpec) -> None:
        self.spec = spec
        self.endpoints: dict[str, EndpointState] = {}
        self._next = 0

    def pick(self) -> EndpointSpec | None:
        healthy = [e.spec for e in self.endpoints.values() if e.health.serving]
        if not healthy:
            return None
        self._next = (self._next + 1) % len(healthy)
        return healthy[self._next]

    def as_dict(self) -> dict[str, Any]:
        return {
            "health_check": self.spec.health_check.as_dict(),
            "timeout_s": self.spec.timeout_s,
            "endpoints": [{"address": addr, "pod": e.spec.pod, "detaching": e.detach_at is not None,
                           **e.health.as_dict()} for addr, e in sorted(self.endpoints.items())],
        }


class BackendPool:
    """All backend services of the current configuration."""

    def __init__(self, detach_delay_s: float = 0.0) -> None:
        self.config = LbConfig()
        self.services: dict[str, BackendService] = {}
        self.detach_delay_s = detach_delay_s

    def apply(self, config: LbConfig, now: float | None = None) -> PoolChange:
        """Switch to a new configuration, keeping the health of endpoints that remain."""
        now = time.monotonic() if now is None else now
        added: list[tuple[str, str]] = []
        removed: list[tuple[str, str]] = []
        changed: set[str] = set()
        for name in self.services.keys() - config.backend_services.keys():
            removed += [(name, addr) for addr in self.services.pop(name).endpoints]
        for name, spec in config.backend_services.items():
            service = self.services.get(name)
            if service is None:
                service = self.services[name] = BackendService(spec)
            elif service.spec.health_check != spec.health_check:
                changed.add(name)
            service.spec = spec
            wanted = {e.address: e for e in spec.endpoints}
            for addr in service.endpoints.keys() - wanted.keys():
                state = service.endpoints[addr]
                if self.detach_delay_s <= 0:
                    del service.endpoints[addr]
                    removed.append((name, addr))
                elif state.detach_at is None:
                    state.detach_at = now + self.detach_delay_s
            for addr, ep in wanted.items():
                if addr in service.endpoints:
                    service.endpoints[addr].spec = ep
                    service.endpoints[addr].detach_at = None  # back before its detach
                else:
                    service.endpoints[addr] = EndpointState(ep)
                    added.append((name, addr))
        self.config = config
        return PoolChange(tuple(added), tuple(removed), frozenset(changed))

    def expire(self, now: float) -> PoolChange:
        """Detach the endpoints whose detach delay has run out."""
        removed = []
        for name, service in self.services.items():
            for addr, state in list(service.endpoints.items()):
                if state.detach_at is not None and state.detach_at <= now:
                    del service.endpoints[addr]
                    removed.append((name, addr))
        return PoolChange(removed=tuple(removed))

    def pick(self, service: str) -> EndpointSpec | None:
        """A healthy endpoint for the next request, or None (GCLB: failed_to_pick_backend)."""
        bs = self.services.get(service)
        return bs.pick() if bs is not None else None

    def endpoint(self, service: str, address: str) -> EndpointState | None:
        bs = self.services.get(service)
        return bs.endpoints.get(address) if bs is not None else None

    def settings(self, service: str) -> HealthCheckSettings | None:
        bs = self.services.get(service)
        return bs.spec.health_check if bs is not None else None

    def timeout_s(self, service: str) -> float:
        return self.services[service].spec.timeout_s

    def record(self, service: str, address: str, result: CheckResult, at: float) -> bool | None:
        """Account a probe result; None if the endpoint left meanwhile, else whether the
        endpoint's state changed."""
        state = self.endpoint(service, address)
        settings = self.settings(service)
        if state is None or settings is None:
            return None
        return state.health.record(result, settings, at)

    def as_dict(self) -> dict[str, Any]:
        """The /debug/backends document."""
        url_map = self.config.url_map
        return {
            "backend_services": {n: s.as_dict() for n, s in sorted(self.services.items())},
            "routes": [{"host": r.host, "path": r.path, "path_type": r.path_type,
                        "backend_service": r.backend, "ingress": r.origin}
                       for r in url_map.routes],
            "default_backend": url_map.default_backend,
            "problems": list(self.config.problems),
        }
