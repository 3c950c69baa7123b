"""Provision a `State`: plan -> safety -> ledger -> server-side apply -> wait Ready; undo always.

The same order as a fault (gameday/faults/base.py), for the same reasons:
1. Plan (reads only): each document is looked up; it will be *created*, *changed* (the live
   values of the fields it sets are read now: they are what a restore writes back), or is
   *unchanged* (no write at all — the lab's sample app on the lab costs nothing).
2. A dry run stops here: the plan is told, nothing is written, no ledger record.
3. Writes need an allowed kube context (`Safety.check_context`), checked before the record.
4. The ledger record (what will be created, the previous values of what will change) is
   fsync'd before the first write, so `gameday recover` can put the cluster back after a
   SIGKILL.
5. Server-side apply (field manager `gameday`), then a bounded wait until every workload of
   the state is rolled out and Ready. A failure in 5 undoes what was done before re-raising.
`close()` (and `Provisioned.undo`, what recover runs) restores the changed fields, deletes what
was created, and waits until that is done, so the next test starts on the cluster as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gameday.adapters.kube import KubeApiError
from gameday.adapters.kube_objects import KubeObjects, ObjectRef
from gameday.errors import ConditionTimeout, FaultError
from gameday.provision.diff import restore_patch
from gameday.provision.rollout import wait_rolled_out
from gameday.provision.state import State
from gameday.waiting import wait_for

if TYPE_CHECKING:
    from gameday.adapters.compute import ComputeAdapter
    from gameday.adapters.kube import KubeAdapter
    from gameday.faults.ledger import Ledger
    from gameday.faults.safety import Safety

KIND = "provision"  # the ledger kind; recover finds `Provisioned.undo` by it
MANAGER = "gameday"
RESTORE_MANAGER = "gameday-restore"  # restores must not become fields `gameday` applied
UNDO_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Step:
    """One document's fate: `create`, `change` (with the patch restoring it) or `unchanged`."""

    ref: ObjectRef
    action: str
    restore: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        if self.action != "change":
            return f"{self.action} {self.ref}"
        return f"change {self.ref}: {', '.join(_paths(self.restore))}"


@dataclass
class Provisioned:
    """A provisioned state: its documents as applied and what closing it undoes."""

    state: State
    docs: list[dict[str, Any]]
    steps: list[Step]
    context: str
    dry_run: bool
    objects: KubeObjects
    ledger: Ledger
    record_id: str | None = None
    closed: bool = False

    @property
    def writes(self) -> list[Step]:
        return [s for s in self.steps if s.action != "unchanged"]

    def plan_lines(self) -> list[str]:
        return [s.describe() for s in self.steps]

    def doc(self, kind: str, name: str) -> dict[str, Any]:
        """The state's rendered document of this kind and name (KeyError naming it else)."""
        for doc in self.docs:
            if doc["kind"] == kind and doc["metadata"]["name"] == name:
                return doc
        raise KeyError(f"state {self.state.name!r} has no {kind} {name!r}")

    def undo_data(self) -> dict[str, Any]:
        return {"state": self.state.name,
                "created": [s.ref.to_dict() for s in self.steps if s.action == "create"],
                "changed": [{"ref": s.ref.to_dict(), "restore": dict(s.restore)}
                            for s in self.steps if s.action == "change"]}

    def close(self, timeout_s: float = UNDO_TIMEOUT_S) -> list[str]:
        """Put back what provisioning changed; idempotent; a no-op for a dry run."""
        if self.closed or self.record_id is None:
            self.closed = True
            return []
        lines = _undo(self.undo_data(), self.objects, timeout_s)
        self.ledger.mark_reverted(self.record_id)
        self.closed = True
        return lines

    @classmethod
    def undo(cls, undo: Mapping[str, Any], kube: KubeAdapter,
             compute: ComputeAdapter | None) -> list[str]:
        """`gameday recover`: the same undo, from the ledger record alone."""
        return _undo(undo, KubeObjects(kube), UNDO_TIMEOUT_S)


def provision(state: State, *, kube: KubeAdapter, ledger: Ledger, safety: Safety,
              dry_run: bool, timeout_s: float, say: Callable[[str], None]) -> Provisioned:
    """Apply `state` and wait until it is Ready; see the module docstring for the order."""
    objects = KubeObjects(kube)
    docs = _ordered(state.render(kube))
    steps = [_plan(objects, doc) for doc in docs]
    done = Provisioned(state, docs, steps, kube.context, dry_run, objects, ledger)
    verb = "would provision" if dry_run else "provisioning"
    say(f"{verb} state {state.name!r} on {kube.context}: "
        + ("; ".join(done.plan_lines()) or "no objects"))
    if dry_run:
        return done
    if done.writes:
        safety.check_context(kube.context)
        done.record_id = ledger.open(KIND, kube.context, done.undo_data())
    try:
        for step, doc in zip(steps, docs, strict=True):
            if step.action != "unchanged":
                objects.apply(doc, MANAGER)
        wait_rolled_out(objects, [s.ref for s in steps], timeout_s)
    except BaseException:
        for line in done.close():
            say(f"provisioning failed, undone: {line}")
        raise
    return done


def _ordered(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Namespaces and CRDs before what lives in them; otherwise the manifests' own order."""
    first = ("Namespace", "CustomResourceDefinition")
    return ([d for d in docs if d["kind"] in first]
            + [d for d in docs if d["kind"] not in first])


def _plan(objects: KubeObjects, doc: dict[str, Any]) -> Step:
    if not objects.namespaced(doc["apiVersion"], doc["kind"]):
        doc["metadata"].pop("namespace", None)
    else:
        doc["metadata"].setdefault("namespace", "default")
    ref = ObjectRef.of(doc)
    try:
        live = objects.get(ref)
    except KubeApiError as exc:
        if exc.status == 403:
            exc.add_note(f"provisioning reads, creates, patches and deletes {ref.kind} objects: "
                         f"grant them to {objects.context}'s identity, or skip provisioning")
        raise
    if live is None:
        return Step(ref, "create")
    restore = restore_patch(live, doc)
    return Step(ref, "change", restore) if restore else Step(ref, "unchanged")


def _undo(undo: Mapping[str, Any], objects: KubeObjects, timeout_s: float) -> list[str]:
    lines: list[str] = []
    changed = [(ObjectRef.from_dict(c["ref"]), c["restore"]) for c in undo.get("changed", [])]
    for ref, patch in reversed(changed):
        restored = objects.merge_patch(ref, patch, RESTORE_MANAGER)
        lines.append(f"restored {', '.join(_paths(patch))} of {ref}" if restored
                     else f"{ref} is gone: nothing to restore")
    created = [ObjectRef.from_dict(c) for c in undo.get("created", [])]
    created.sort(key=lambda r: r.kind == "Namespace")  # namespaces last: they hold the rest
    for ref in reversed(created):
        lines.append(f"deleted {ref}" if objects.delete(ref) else f"{ref} was already gone")
    deadline = time.monotonic() + timeout_s
    if created:
        try:
            wait_for(f"{len(created)} provisioned object(s) to be deleted",
                     lambda: True if all(objects.get(r) is None for r in created) else None,
                     timeout=timeout_s, interval=1.0,
                     describe=lambda: ", ".join(str(r) for r in created if objects.get(r)))
        except ConditionTimeout as exc:
            raise FaultError(f"provisioning's undo: {exc}. Delete them by hand or run "
                             "`gameday recover` again") from exc
    if changed:
        wait_rolled_out(objects, [r for r, _ in changed],
                        max(1.0, deadline - time.monotonic()))
    return lines


def _paths(patch: Mapping[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in patch.items():
        if isinstance(value, Mapping) and value:
            out += _paths(value, f"{prefix}{key}.")
        else:
            out.append(f"{prefix}{key}")
    return out
