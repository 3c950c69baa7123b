"""Runtime state of the backend services: endpoints, their health, and who gets the next request.

A new configuration (from the watcher, or from a test) is applied as a diff so that an endpoint
that stays keeps its health history: only new endpoints start UNKNOWN and must pass a check, and
an endpoint that left the EndpointSlice leaves the pool at once (NEG detach). No I/O here: the
prober feeds results in, the proxy asks `pick`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gameday.lab.ingress.healthcheck import CheckResult, EndpointHealth, HealthCheckSettings
from gameday.lab.ingress.translate import BackendServiceSpec, EndpointSpec, LbConfig


@dataclass
class EndpointState:
    """One endpoint of one backend service, with its health as that service checks it."""

    spec: EndpointSpec
    health: EndpointHealth = field(default_factory=EndpointHealth)


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
            "endpoints": [{"address": addr, "pod": e.spec.pod, **e.health.as_dict()}
                          for addr, e in sorted(self.endpoints.items())],
        }


class BackendPool:
    """All backend services of the current configuration."""

    def __init__(self) -> None:
        self.config = LbConfig()
        self.services: dict[str, BackendService] = {}

    def apply(self, config: LbConfig) -> PoolChange:
        """Switch to a new configuration, keeping the health of endpoints that remain."""
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
                del service.endpoints[addr]
                removed.append((name, addr))
            for addr, ep in wanted.items():
                if addr in service.endpoints:
                    service.endpoints[addr].spec = ep
                else:
                    service.endpoints[addr] = EndpointState(ep)
                    added.append((name, addr))
        self.config = config
        return PoolChange(tuple(added), tuple(removed), frozenset(changed))

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
