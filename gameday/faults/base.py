"""The Fault contract: plan (read-only) -> safety -> ledger record -> inject; revert always.

Every fault follows the same order so the guarantees hold for all of them:
1. `plan()` reads the cluster (nodes, pods, instances, old values) and returns a FaultPlan: the
   targets, the API calls it will make, and the undo data. No writes.
2. Safety (context allowlist, then the fault's blast-radius check) runs on the plan, so a
   refusal happens before any write. A dry run records a refusal in the result instead of
   raising, so a user can preview a fault against any cluster.
3. The fault takes a hold on the cluster lock (faults/lock.py: no other game day may inject
   meanwhile), then the undo data goes to the ledger (fsync'd) before the first fault write.
4. `inject()` writes. If injecting fails half-way, it reverts what it did before re-raising.
5. `revert()` replays the undo data; idempotent, and a no-op when nothing was injected. The
   undo routine is a classmethod of plain data, so `recover` can run it after a crash without
   the fault object. A successful revert gives the fault's hold on the lock back.

`with fault:` injects on entry and reverts on every exit path (pass, assertion, exception).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from gameday.errors import FaultError, SafetyError
from gameday.faults.ledger import Ledger
from gameday.faults.safety import Safety, check_protected
from gameday.lab.profiles import Profile, get_profile

if TYPE_CHECKING:  # google.cloud is heavy and only GCE-mode faults need it
    from gameday.adapters.compute import ComputeAdapter
    from gameday.adapters.kube import KubeAdapter
    from gameday.faults.lock import Lock

EvidenceSink = Callable[[str, str, Mapping[str, Any]], None]


def no_evidence(kind: str, message: str, data: Mapping[str, Any]) -> None:
    """Default sink: the fault still works without a timeline."""


def nothing_protected() -> Mapping[str, str]:
    """Default: no load pods or other harness parts in the cluster."""
    return {}


@dataclass
class Target:
    """Everything a fault acts with; the pytest fixtures build one per test."""

    kube: KubeAdapter
    safety: Safety
    ledger: Ledger
    compute: ComputeAdapter | None = None
    dry_run: bool = False
    evidence: EvidenceSink = no_evidence
    profile: Profile = field(default_factory=lambda: get_profile("gke"))
    lock: Lock | None = None  # None: the cluster Lease of this ledger's run (set on init)
    # `node/NAME` / `pod/NAME` -> what of the harness runs there (in-cluster load pods): a
    # fault may not take them, or the game day would break its own measuring instrument
    protected: Callable[[], Mapping[str, str]] = nothing_protected

    def __post_init__(self) -> None:
        if self.lock is None:
            from gameday.faults.lock import ClusterLock

            self.lock = ClusterLock(self.kube, self.ledger)


@dataclass(frozen=True)
class FaultPlan:
    """What a fault will do, readable by a human (dry run) and complete enough to undo it."""

    kind: str
    context: str
    summary: str
    targets: tuple[str, ...]
    calls: tuple[str, ...]  # the API calls, in order, e.g. "PATCH node/n1 unschedulable=true"
    undo: Mapping[str, Any]  # the ledger record's payload

    def render(self) -> str:
        lines = [f"[{self.kind}] {self.summary} (context {self.context})"]
        lines += [f"  target: {t}" for t in self.targets]
        lines += [f"  call:   {c}" for c in self.calls]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FaultResult:
    plan: FaultPlan
    dry_run: bool
    refused: str | None = None  # dry run only: why the real run would be refused
    injected_at: float | None = None  # wall clock when the first write was made
    data: dict[str, Any] = field(default_factory=dict)  # fault-specific measurements


class Fault(ABC):
    kind: ClassVar[str]

    def __init__(self, target: Target) -> None:
        self.target = target
        self._plan: FaultPlan | None = None
        self._record_id: str | None = None
        self.result: FaultResult | None = None

    # -- for subclasses ---------------------------------------------------------------------

    @abstractmethod
    def _make_plan(self) -> FaultPlan:
        """Read-only: resolve targets and old values."""

    def _check(self, plan: FaultPlan) -> None:  # noqa: B027 - optional hook, no-op by default
        """Fault-specific safety (blast radius); raise SafetyError to refuse."""

    @abstractmethod
    def _apply(self, plan: FaultPlan, result: FaultResult) -> None:
        """The writes. Record measurements in result.data; emit timeline events."""

    @classmethod
    @abstractmethod
    def undo(cls, undo: Mapping[str, Any], kube: KubeAdapter,
             compute: ComputeAdapter | None) -> list[str]:
        """Put the cluster back from ledger data alone; idempotent. Returns what was done."""

    # -- the contract -----------------------------------------------------------------------

    def emit(self, kind: str, message: str, **data: Any) -> None:
        self.target.evidence(f"{self.kind}.{kind}", message, {"at": time.time(), **data})

    def _lock(self) -> Lock:
        assert self.target.lock is not None, "Target.__post_init__ sets the lock"
        return self.target.lock

    def plan(self) -> FaultPlan:
        if self._plan is None:
            self._plan = self._make_plan()
        return self._plan

    def inject(self) -> FaultResult:
        if self._record_id is not None:
            raise FaultError(f"{self.kind} is already injected; revert it before injecting again")
        plan = self.plan()
        refused = None
        try:
            self.target.safety.check_context(plan.context)
            check_protected(self.kind, plan.targets, self.target.protected())
            self._check(plan)
        except SafetyError as exc:
            if not self.target.dry_run:
                raise
            refused = str(exc)
        if self.target.dry_run and refused is None:  # read-only: would the lock refuse it?
            refused = self._lock().refusal()
        self.emit("plan", plan.render() + (f"\n  REFUSED: {refused}" if refused else ""),
                  plan=plan.as_dict(), dry_run=self.target.dry_run, refused=refused)
        if self.target.dry_run:
            self.result = FaultResult(plan, dry_run=True, refused=refused)
            return self.result
        if self._lock().acquire():
            self.emit("locked", "took the cluster lock: no other game day injects into "
                      f"{plan.context} until this one is over")
        try:
            self._record_id = self.target.ledger.open(self.kind, plan.context, plan.undo)
        except BaseException:
            self._lock().release()
            raise
        self.result = FaultResult(plan, dry_run=False, injected_at=time.time())
        try:
            self._apply(plan, self.result)
        except BaseException as exc:
            self.emit("inject_failed", f"inject failed, reverting: {exc}")
            self.revert()
            raise
        return self.result

    def revert(self) -> list[str]:
        """Undo the injection; a no-op after a dry run, before inject, or when already done."""
        if self._record_id is None:
            return []
        done = self.undo(self.plan().undo, self.target.kube, self.target.compute)
        self.target.ledger.mark_reverted(self._record_id)
        self._record_id = None
        self.emit("reverted", "; ".join(done) or "nothing to undo", actions=done)
        if self._lock().release():  # a revert that raised keeps its hold
            self.emit("unlocked", "released the cluster lock")
        return done

    def __enter__(self) -> FaultResult:
        return self.inject()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.revert()  # never suppresses: the test's own failure stays the reported one
