"""Safety policy: which clusters a fault may touch and how much of them, checked before any write.

Three guards, all evaluated on the plan (read-only data) so a refusal happens before the first
API write and before the ledger record:
- context allowlist: destructive faults run only against allowed kube contexts; the lab's
  `gameday-lab` is always allowed. A production context must be named on purpose.
- blast radius: at most `max_nodes` nodes, and at most `max_pool_fraction` of any node pool and
  `max_zone_fraction` of any zone, per node-level fault.
- last healthy zone: after the fault at least one zone must keep a Ready node the fault does not
  touch, unless the fault was explicitly told it may take the last one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from gameday.adapters.kube import NodeInfo
from gameday.errors import SafetyError

LAB_CONTEXT = "gameday-lab"


@dataclass(frozen=True)
class BlastRadius:
    max_nodes: int = 3
    max_pool_fraction: float = 0.5
    max_zone_fraction: float = 0.5


@dataclass(frozen=True)
class Safety:
    allowed_contexts: frozenset[str] = field(default_factory=frozenset)
    blast_radius: BlastRadius = field(default_factory=BlastRadius)

    def check_context(self, context: str) -> None:
        if context == LAB_CONTEXT or context in self.allowed_contexts:
            return
        allowed = ", ".join(sorted({LAB_CONTEXT, *self.allowed_contexts}))
        raise SafetyError(
            f"refusing a destructive fault against kube context {context!r}: it is not in the "
            f"allowlist ({allowed}). If this cluster is meant for game days, pass "
            f"`--allow-context {context}` or add it to the ini option `gameday_allowed_contexts`."
        )

    def check_nodes(self, selected: Sequence[NodeInfo], cluster: Sequence[NodeInfo]) -> None:
        """Blast radius of a node-level fault (drain, preemption): count and fractions."""
        limit = self.blast_radius
        if len(selected) > limit.max_nodes:
            raise SafetyError(
                f"fault selects {len(selected)} nodes ({_names(selected)}), above the blast "
                f"radius max_nodes={limit.max_nodes}: narrow the selector or raise "
                "BlastRadius.max_nodes")
        for attr, max_fraction, label in (("pool", limit.max_pool_fraction, "node pool"),
                                          ("zone", limit.max_zone_fraction, "zone")):
            totals = Counter(getattr(n, attr) for n in cluster)
            for group, count in Counter(getattr(n, attr) for n in selected).items():
                if count / totals[group] > max_fraction:
                    raise SafetyError(
                        f"fault selects {count} of {totals[group]} nodes of {label} {group!r}, "
                        f"above max_{attr}_fraction={max_fraction:g}: select fewer nodes or "
                        f"raise BlastRadius.max_{attr}_fraction")
        self.check_keeps_a_zone(selected, cluster, allow_last_zone=False)

    @staticmethod
    def check_keeps_a_zone(selected: Iterable[NodeInfo], cluster: Sequence[NodeInfo], *,
                           allow_last_zone: bool) -> None:
        """At least one zone must keep a Ready node the fault leaves alone."""
        hit = {n.name for n in selected}
        spared = {n.zone for n in cluster if n.ready and n.name not in hit}
        if spared or allow_last_zone:
            return
        raise SafetyError(
            "fault would leave no zone with a healthy node (the last healthy zone): this takes "
            "the whole cluster down. If that is the game day you mean, say so explicitly "
            "(allow_last_zone=True)")


def _names(nodes: Iterable[NodeInfo]) -> str:
    return ", ".join(n.name for n in nodes)


def check_protected(kind: str, targets: Iterable[str], protected: Mapping[str, str]) -> None:
    """Refuse a fault whose targets (`node/NAME ...`, `pod/NAME ...`) include a node or pod
    the harness itself runs on: losing the load generator mid-fault measures nothing."""
    hits = [f"{target} ({protected[key]})" for target in targets
            if (key := target.split(" ", 1)[0]) in protected]
    if hits:
        raise SafetyError(
            f"refusing {kind}: it would take what runs the game day's own load: "
            f"{'; '.join(hits)}. Keep the load elsewhere (gameday.load(avoid_zones=...), "
            "--load-node-selector) or target other nodes")
