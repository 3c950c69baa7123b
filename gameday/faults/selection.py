"""Which nodes a node-level fault hits: by zone, node pool, provisioning and label selector.

Matching is exact on label values and node names (never substrings), and the choice among
matching nodes is deterministic (sorted by name) so a dry run shows what the real run will do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gameday.adapters.kube import NodeInfo
from gameday.errors import UsageError

SPOT_LABEL = "cloud.google.com/gke-spot"
PREEMPTIBLE_LABEL = "cloud.google.com/gke-preemptible"


@dataclass(frozen=True)
class NodeSelector:
    """All given criteria must hold. `provisioning` is "spot", "preemptible", "any-spot"
    (either) or None (no constraint); `count` is how many matching nodes to take."""

    names: tuple[str, ...] = ()
    zone: str | None = None
    pool: str | None = None
    provisioning: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    count: int = 1
    ready_only: bool = True

    def describe(self) -> str:
        parts = [f"names={','.join(self.names)}"] if self.names else []
        parts += [f"{k}={v}" for k, v in (("zone", self.zone), ("pool", self.pool),
                                          ("provisioning", self.provisioning)) if v]
        parts += [f"{k}={v}" for k, v in self.labels]
        return " ".join(parts) or "any node"

    def _matches(self, node: NodeInfo) -> bool:
        spot = node.labels.get(SPOT_LABEL) == "true"
        preemptible = node.labels.get(PREEMPTIBLE_LABEL) == "true"
        provisioning_ok = {None: True, "spot": spot, "preemptible": preemptible,
                           "any-spot": spot or preemptible}
        if self.provisioning not in provisioning_ok:
            raise UsageError(f"provisioning {self.provisioning!r}: use spot, preemptible, "
                             "any-spot or leave it unset")
        return ((not self.names or node.name in self.names)
                and (self.zone is None or node.zone == self.zone)
                and (self.pool is None or node.pool == self.pool)
                and provisioning_ok[self.provisioning]
                and all(node.labels.get(k) == v for k, v in self.labels)
                and (node.ready or not self.ready_only))

    def select(self, nodes: Sequence[NodeInfo]) -> list[NodeInfo]:
        """The first `count` matching nodes by name; a UsageError when too few match."""
        if self.count < 1:
            raise UsageError(f"node count must be at least 1, not {self.count}")
        unknown = set(self.names) - {n.name for n in nodes}
        if unknown:
            raise UsageError(f"no such node(s): {', '.join(sorted(unknown))}")
        matching = sorted((n for n in nodes if self._matches(n)), key=lambda n: n.name)
        if len(matching) < self.count:
            raise UsageError(
                f"{self.describe()} matches {len(matching)} "
                f"{'Ready ' if self.ready_only else ''}node(s), the fault needs {self.count}; "
                f"nodes: {', '.join(f'{n.name}({n.zone}/{n.pool})' for n in nodes) or 'none'}")
        return matching[: self.count]


def known_zones(nodes: Sequence[NodeInfo]) -> list[str]:
    return sorted({n.zone for n in nodes if n.zone})
