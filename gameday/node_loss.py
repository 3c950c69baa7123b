"""Losing nodes on purpose and seeing them come back: which Spot nodes to take, and what counts
as "replaced".

Why spread over zones: the default blast radius allows at most half of a zone per fault, and
the first N Spot nodes by name usually sit in one zone (GKE names nodes after their MIG), so a
two-node preemption must pick its nodes across zones to stay inside the guard rails.

Why check the instance id: the MIG recreates a preempted VM under the same name, and a node
that only rebooted also gets a new boot id; only a new Compute Engine instance id proves the VM
was recreated, which is what a Spot preemption does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gameday.errors import UsageError
from gameday.faults.selection import PREEMPTIBLE_LABEL, SPOT_LABEL, NodeSelector

if TYPE_CHECKING:
    from gameday.adapters.compute import ComputeAdapter
    from gameday.adapters.kube import NodeInfo, PodInfo


def is_spot(node: NodeInfo) -> bool:
    return "true" in (node.labels.get(SPOT_LABEL), node.labels.get(PREEMPTIBLE_LABEL))


def pods_per_node(pods: Iterable[PodInfo]) -> Counter[str]:
    """How many of the pods each node really runs: not those leaving, nor finished ones (a
    graceful node shutdown leaves its pods behind as Failed on the recreated node, which then
    runs nothing)."""
    return Counter(p.node for p in pods if p.node and not p.terminating and not p.finished)


def spread_spot_nodes(nodes: Sequence[NodeInfo], count: int,
                      app_pods: Mapping[str, int] | None = None) -> NodeSelector:
    """`count` Ready Spot/preemptible nodes, one zone after the other; within a zone, the
    nodes running most of the app's pods (`app_pods`: pods per node name) first, since losing
    a node without them tests nothing; ties by name, so a dry run names the nodes the real run
    will take."""
    if count < 1:
        raise UsageError(f"the number of nodes to preempt must be at least 1, not {count}")
    pods = app_pods or {}
    by_zone: dict[str, list[str]] = {}
    for node in sorted(nodes, key=lambda n: (-pods.get(n.name, 0), n.name)):
        if node.ready and node.zone and is_spot(node):
            by_zone.setdefault(node.zone, []).append(node.name)
    picked: list[str] = []
    while len(picked) < count and any(by_zone.values()):
        for zone in sorted(by_zone):
            if by_zone[zone] and len(picked) < count:
                picked.append(by_zone[zone].pop(0))
    if len(picked) < count:
        raise UsageError(f"only {len(picked)} Ready Spot/preemptible node(s) with a zone label "
                         f"found, the scenario preempts {count}: add a Spot node pool or "
                         "lower the count")
    return NodeSelector(names=tuple(picked), provisioning="any-spot", count=count)


@dataclass(frozen=True)
class Replacement:
    """One preempted node after recovery: the VM id it had and the one it has now."""

    node: str
    instance: str
    old_id: int
    new_id: int

    @property
    def recreated(self) -> bool:
        return self.old_id != self.new_id


def replacements(compute: ComputeAdapter, planned: Sequence[Mapping[str, Any]]
                 ) -> list[Replacement]:
    """Compare each planned node's instance id (from the fault's plan) with the VM's now."""
    from gameday.adapters.compute import parse_provider_id

    return [Replacement(e["name"], e["instance"], int(e["instance_id"]),
                        compute.get_instance(parse_provider_id(e["instance"])).id)
            for e in planned]


def milestone_figures(seen: Mapping[str, float], injected_at: float) -> dict[str, float]:
    """Each recovery milestone as seconds since the injection, e.g. `node_back_s`."""
    return {f"{name}_s": at - injected_at for name, at in seen.items()}
