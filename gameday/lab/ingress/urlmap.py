"""Host and path matching of an Ingress, as GCLB's URL map does it; pure and I/O-free.

All Ingresses the lab serves share one listen address (on GKE each gets its own IP), so their
rules are merged into one URL map; the oldest Ingress wins a conflict, as it would have been
programmed first. Matching:

- host: an exact host rule beats a wildcard (`*.example.com`, one DNS label) which beats rules
  without a host. Once a host rule is chosen, a path miss goes to the default backend (GCLB's
  path matcher default), not to less specific hosts.
- path: `Exact` beats any prefix; among prefixes the longest wins. `Prefix` matches whole path
  elements (`/foo` matches `/foo` and `/foo/bar`, not `/foobar`). `ImplementationSpecific` has
  GCE's meaning: `/foo/*` is a string prefix `/foo/`, anything else matches exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from gameday.errors import UsageError

PATH_TYPES = ("Exact", "Prefix", "ImplementationSpecific")


@dataclass(frozen=True)
class Route:
    """One `host + path -> backend service` rule of an Ingress."""

    host: str  # "" = any host
    path: str
    path_type: str
    backend: str  # backend service name, see translate.backend_service_name
    origin: str = ""  # "namespace/ingress", for /debug/backends

    def __post_init__(self) -> None:
        if self.path_type not in PATH_TYPES:
            raise UsageError(
                f"Ingress {self.origin}: pathType {self.path_type!r} is not one of "
                f"{', '.join(PATH_TYPES)}"
            )

    def match_length(self, path: str) -> int | None:
        """How specific a match this route is for `path` (higher wins), or None if no match."""
        exact_bonus = 1 << 20  # any exact match beats any prefix
        if self.path_type == "Exact":
            return exact_bonus + len(self.path) if path == self.path else None
        if self.path_type == "Prefix":
            prefix = self.path.rstrip("/")
            if prefix == "" or path == prefix or path.startswith(prefix + "/"):
                return len(prefix)
            return None
        if self.path.endswith("/*"):
            prefix = self.path[:-1]
            return len(prefix) if path.startswith(prefix) else None
        if self.path == "*":
            return 0
        return exact_bonus + len(self.path) if path == self.path else None


def _host_rank(rule_host: str, host: str) -> int | None:
    """2 exact, 1 wildcard, 0 any-host, None when the rule's host does not match."""
    if not rule_host:
        return 0
    if rule_host == host:
        return 2
    if rule_host.startswith("*."):
        head, _, rest = host.partition(".")
        return 1 if head and rest == rule_host[2:] else None
    return None


@dataclass(frozen=True)
class UrlMap:
    """Merged routes of every served Ingress plus the default backend (None: GCLB's 404)."""

    routes: tuple[Route, ...] = ()
    default_backend: str | None = None
    default_origin: str = ""  # "namespace/ingress" whose defaultBackend it is

    def lookup(self, host: str, path: str) -> str | None:
        """Backend service for a request, or None when the answer is 404."""
        route = self.route(host, path)
        return route.backend if route is not None else self.default_backend

    def route(self, host: str, path: str) -> Route | None:
        """The route a request matches, or None (then the default backend, if any)."""
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        host = host.lower()
        best_rank, candidates = -1, []
        for route in self.routes:
            rank = _host_rank(route.host, host)
            if rank is None or rank < best_rank:
                continue
            if rank > best_rank:
                best_rank, candidates = rank, []
            candidates.append(route)
        best: tuple[int, Route] | None = None
        for route in candidates:  # earlier (older Ingress) wins ties
            length = route.match_length(path)
            if length is not None and (best is None or length > best[0]):
                best = (length, route)
        return best[1] if best is not None else None
