"""The cluster lock: one game day injects faults into a cluster at a time.

Why: a fault records the cluster's current state as what to restore (a MIG's failure policy, a
BackendConfig's health check, a node's cordon). A second game day injecting while the first
one's fault is in place records the *injected* state as the old one, and its revert puts the
fault back for good (seen in the lab: two zone outages at once left the MIG policy at
DO_NOTHING). So a run takes a Lease (`gameday/gameday-lock`) before its first fault write.

Holds are counted in the process, per holder: every injected fault holds the lock until its
revert, and a game day (gameday.py) adds a hold of its own from its first fault to the end of
the test, so another game day cannot inject while this one still measures the recovery. The
Lease is deleted when the last hold is given back, or by `recover` once the ledger is clean.

Why no expiry: a run killed mid-fault leaves the fault in the cluster, so the lock must stay
until that run's ledger is replayed. `gameday recover` replays it and then releases the lock;
the refusal message says so, naming the run, its host and its ledger.

The holder is the host and the resolved ledger path: one per run, the same for every fault of
the run (nested faults re-enter) and for `gameday recover` of that ledger on that host.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from gameday.adapters.kube import KubeApiError, KubeNotFound
from gameday.errors import FaultError, SafetyError, UsageError

if TYPE_CHECKING:
    from gameday.adapters.kube import KubeAdapter
    from gameday.faults.ledger import Ledger

LOCK_NAMESPACE = "gameday"  # created by deploy/rbac.yaml (and by the lab)
LOCK_NAME = "gameday-lock"
_ANNOTATION = "gameday.dev/"
_HOLDS: dict[str, int] = {}  # holder -> holds in this process (faults and game days)


class Lock(Protocol):
    """What a fault needs of the lock (the unit tests give it a recording stand-in)."""

    def acquire(self) -> bool:
        """Add a hold (True: the lock was newly taken; False: this run held it already)."""

    def release(self) -> bool:
        """Give a hold back (True: it was the last one and the lock is released)."""

    def refusal(self) -> str | None:
        """Read-only, for a dry run: why `acquire` would refuse now, or None."""


class ClusterLock:
    """The Lease that says which run may inject faults into the cluster right now."""

    def __init__(self, kube: KubeAdapter, ledger: Ledger) -> None:
        self.kube = kube
        self.ledger_path = ledger.path.resolve()
        self.host = socket.gethostname()
        self.holder = f"{self.host}:{self.ledger_path}"

    @property
    def holds(self) -> int:
        return _HOLDS.get(self.holder, 0)

    def acquire(self) -> bool:
        if self.holds:
            _HOLDS[self.holder] += 1
            return False
        for _ in range(3):  # the Lease can vanish between a refused create and our read
            if self._create():
                _HOLDS[self.holder] = 1
                return True
            held = self.kube.get_lease(LOCK_NAMESPACE, LOCK_NAME)
            if held is None or not held.holder:
                continue
            if held.holder != self.holder:
                raise SafetyError(self._held_message(held.annotations))
            _HOLDS[self.holder] = 1  # ours already: kept by a revert that failed
            return False
        raise SafetyError(f"the cluster lock (Lease {LOCK_NAMESPACE}/{LOCK_NAME}) kept changing "
                          "while we tried to take it: another game day is starting; retry")

    def refusal(self) -> str | None:
        held = self.kube.get_lease(LOCK_NAMESPACE, LOCK_NAME)
        if held is None or held.holder in ("", self.holder):
            return None
        return self._held_message(held.annotations)

    def release(self, *, every_hold: bool = False) -> bool:
        """Give a hold back; the last one (or `every_hold`: `recover`, once the ledger has
        nothing outstanding) deletes the Lease if this run holds it."""
        if self.holds > 1 and not every_hold:
            _HOLDS[self.holder] -= 1
            return False
        _HOLDS.pop(self.holder, None)
        try:
            held = self.kube.get_lease(LOCK_NAMESPACE, LOCK_NAME)
            if held is None or held.holder != self.holder:
                return False
            return self.kube.delete_lease(LOCK_NAMESPACE, LOCK_NAME, held.resource_version)
        except KubeApiError as exc:
            raise FaultError(f"the faults are reverted, but the cluster lock (Lease "
                             f"{LOCK_NAMESPACE}/{LOCK_NAME}) could not be released: {exc}; "
                             f"`gameday recover --ledger {self.ledger_path}` releases it") from exc

    def _create(self) -> bool:
        """Create the Lease held by this run; False if one exists already."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        notes = {f"{_ANNOTATION}host": self.host, f"{_ANNOTATION}pid": str(os.getpid()),
                 f"{_ANNOTATION}ledger": str(self.ledger_path), f"{_ANNOTATION}since": now}
        try:
            return self.kube.create_lease(LOCK_NAMESPACE, LOCK_NAME, self.holder, notes, now)
        except KubeNotFound as exc:
            raise UsageError(
                f"the cluster lock lives in namespace {LOCK_NAMESPACE!r}, which context "
                f"{self.kube.context!r} does not have: `kubectl apply -f deploy/rbac.yaml` "
                f"creates it with the harness's rights (or `kubectl create namespace "
                f"{LOCK_NAMESPACE}`)") from exc
        except KubeApiError as exc:
            if exc.status == 403:
                raise UsageError(
                    f"the harness may not take the cluster lock (Lease {LOCK_NAMESPACE}/"
                    f"{LOCK_NAME}): {exc.message}; apply the gameday-lock Role of "
                    "deploy/rbac.yaml") from exc
            raise

    def _held_message(self, notes: Mapping[str, str]) -> str:
        host = notes.get(f"{_ANNOTATION}host", "?")
        ledger = notes.get(f"{_ANNOTATION}ledger", "?")
        return (f"another game day holds context {self.kube.context!r}: the cluster lock "
                f"(Lease {LOCK_NAMESPACE}/{LOCK_NAME}) is held by the run of ledger {ledger} on "
                f"host {host} (pid {notes.get(f'{_ANNOTATION}pid', '?')}) since "
                f"{notes.get(f'{_ANNOTATION}since', '?')}. Two game days at once would spoil "
                "each other's measurements, and each would restore the other's fault as the "
                "old state. Wait for it to end; if it was "
                f"killed, run `gameday recover --ledger {ledger}` on {host}, which reverts its "
                "faults and releases the lock; if that ledger is lost, check the cluster by "
                f"hand, then `kubectl -n {LOCK_NAMESPACE} delete lease {LOCK_NAME}`")
