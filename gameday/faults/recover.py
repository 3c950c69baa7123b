"""Replay outstanding ledger records after a crash (`gameday recover --ledger PATH`).

Each record names its fault kind; the kind's `undo` classmethod puts the cluster back from the
record's data alone, idempotently, so running recover twice (or after a partial revert) is safe.
A record for another kube context is refused (SafetyError) rather than applied to the wrong
cluster; a torn last line (a crash mid-write) is reported and skipped. Once nothing of the
ledger is outstanding, the cluster lock the killed run held is released.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gameday.errors import FaultError, SafetyError, UsageError
from gameday.faults.healthcheck_lag import HealthcheckLag
from gameday.faults.ledger import Ledger
from gameday.faults.lock import LOCK_NAME, LOCK_NAMESPACE, ClusterLock
from gameday.faults.node_drain import NodeDrain
from gameday.faults.node_preemption import NodePreemption
from gameday.faults.pod_kill import PodKill
from gameday.faults.zone_outage import ZoneOutage
from gameday.faults.zone_partition import ZonePartition
from gameday.load.cluster import KIND as CLUSTER_LOAD_KIND
from gameday.load.cluster import ClusterLoad
from gameday.provision.provisioned import KIND as PROVISION_KIND
from gameday.provision.provisioned import Provisioned

if TYPE_CHECKING:
    from gameday.adapters.compute import ComputeAdapter
    from gameday.adapters.kube import KubeAdapter


class Undoable(Protocol):
    """What a ledger record's kind provides: putting the cluster back from the record alone."""

    @classmethod
    def undo(cls, undo: Mapping[str, Any], kube: KubeAdapter,
             compute: ComputeAdapter | None) -> list[str]: ...


# faults, and the harness's own objects in the cluster (the in-cluster load's pods, the
# states scenarios provisioned)
FAULT_KINDS: dict[str, type[Undoable]] = {
    **{cls.kind: cls for cls in (PodKill, NodeDrain, NodePreemption, ZoneOutage,
                                 ZonePartition, HealthcheckLag)},
    CLUSTER_LOAD_KIND: ClusterLoad,
    PROVISION_KIND: Provisioned,
}


def recover(ledger_path: Path, kube: KubeAdapter, compute: ComputeAdapter | None) -> list[str]:
    """Revert every record without a `reverted` mark; returns one line per action taken.

    Raises FaultError after trying every record if any could not be reverted (the others are
    reverted and marked, so a re-run only retries the failures).
    """
    ledger = Ledger(Path(ledger_path))
    if not ledger.path.exists():
        raise UsageError(f"no ledger at {ledger.path}: pass the run folder's "
                         "revert-ledger.jsonl")
    state = ledger.read()
    lines = [f"ignored a torn line (crash mid-write): {t[:120]!r}" for t in state.torn]
    failures = []
    foreign = sorted({r.context for r in state.outstanding} - {kube.context})
    if foreign:  # checked before any revert: never half-recover onto the wrong cluster
        raise SafetyError(f"ledger {ledger.path} has outstanding records for kube context(s) "
                          f"{', '.join(foreign)}, but recover runs against {kube.context!r}: "
                          f"re-run with --context {foreign[0]}")
    for record in state.outstanding:
        fault = FAULT_KINDS.get(record.kind)
        if fault is None:
            failures.append(f"{record.id}: unknown fault kind {record.kind!r}")
            continue
        try:
            done = fault.undo(record.undo, kube, compute)
        except Exception as exc:  # keep going: one stuck record must not block the others
            failures.append(f"{record.id}: {type(exc).__name__}: {exc}")
            continue
        ledger.mark_reverted(record.id)
        lines += [f"{record.id}: {line}" for line in done]
    if not state.outstanding:
        lines.append("nothing outstanding: every recorded fault was reverted")
    if not failures and ClusterLock(kube, ledger).release(every_hold=True):
        lines.append(f"released the cluster lock (Lease {LOCK_NAMESPACE}/{LOCK_NAME}) this "
                     "run held")
    if failures:
        raise FaultError("recover could not revert: " + "; ".join(failures)
                         + ". Fix the cause and run recover again (reverted records are "
                           "marked and will not be replayed)")
    return lines
