"""The Fault contract on a toy fault whose 'cluster' is a dict: order of safety, ledger and
writes; revert on every exit path; dry run makes zero writes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gameday.errors import SafetyError
from gameday.faults.base import Fault, FaultPlan, FaultResult, Target
from gameday.faults.ledger import Ledger
from gameday.faults.safety import Safety


class ToyCordon(Fault):
    """Sets cluster[node] = 'cordoned'; undo sets it back to the recorded old value."""

    kind = "toy"

    def __init__(self, target: Target, node: str, fail_after_write: bool = False) -> None:
        super().__init__(target)
        self.node = node
        self.fail_after_write = fail_after_write

    def _make_plan(self) -> FaultPlan:
        cluster = self.target.kube.cluster
        return FaultPlan(self.kind, self.target.kube.context, f"cordon {self.node}",
                         (self.node,), (f"PATCH node/{self.node}",),
                         {"node": self.node, "old": cluster[self.node]})

    def _apply(self, plan: FaultPlan, result: FaultResult) -> None:
        assert self.target.ledger.read().outstanding, "ledger record must precede the write"
        self.target.kube.cluster[self.node] = "cordoned"
        if self.fail_after_write:
            raise RuntimeError("boom half-way")

    @classmethod
    def undo(cls, undo: Mapping[str, Any], kube: Any, compute: Any) -> list[str]:
        kube.cluster[undo["node"]] = undo["old"]
        return [f"restored {undo['node']}"]


class RecordingLock:
    """The cluster lock's stand-in: holds counted as ClusterLock counts them, and how many
    ledger records existed at each step (the lock must be taken before the first record)."""

    def __init__(self, ledger: Ledger, held_elsewhere: bool = False) -> None:
        self.ledger = ledger
        self.held_elsewhere = held_elsewhere
        self.holds = 0
        self.log: list[tuple[str, int]] = []

    def acquire(self) -> bool:
        if self.held_elsewhere:
            raise SafetyError("another game day holds context 'gameday-lab'")
        self.log.append(("acquire", len(self.ledger.read().records)))
        self.holds += 1
        return self.holds == 1

    def refusal(self) -> str | None:
        self.log.append(("check", len(self.ledger.read().records)))
        return "another game day holds context 'gameday-lab'" if self.held_elsewhere else None

    def release(self) -> bool:
        if not self.holds:
            return False
        self.holds -= 1
        if self.holds:
            return False
        self.log.append(("release", len(self.ledger.read().outstanding)))
        return True


def make(tmp_path: Path, context: str = "gameday-lab", dry_run: bool = False,
         held_elsewhere: bool = False) -> Target:
    kube = SimpleNamespace(context=context, cluster={"n1": "ok", "n2": "ok"})
    events: list[tuple[str, str]] = []
    ledger = Ledger(tmp_path / "l.jsonl")
    target = Target(kube=kube, safety=Safety(), ledger=ledger,  # type: ignore[arg-type]
                    dry_run=dry_run, evidence=lambda k, m, d: events.append((k, m)),
                    lock=RecordingLock(ledger, held_elsewhere))
    target.events = events  # type: ignore[attr-defined]
    return target


def test_with_block_reverts_on_pass(tmp_path: Path) -> None:
    target = make(tmp_path)
    with ToyCordon(target, "n1"):
        assert target.kube.cluster["n1"] == "cordoned"
    assert target.kube.cluster["n1"] == "ok"
    assert target.ledger.read().outstanding == ()
    assert [k for k, _ in target.events] == ["toy.plan", "toy.locked", "toy.reverted",
                                             "toy.unlocked"]


def test_lock_is_taken_before_the_record_and_released_after_the_last_revert(
        tmp_path: Path) -> None:
    target = make(tmp_path)
    with ToyCordon(target, "n1"), ToyCordon(target, "n2"):  # nested faults of one run
        assert target.lock.holds == 2  # type: ignore[union-attr]
    # taken once with no record yet; re-entered by the inner fault (one record then);
    # released once, when nothing was outstanding
    assert target.lock.log == [("acquire", 0), ("acquire", 1), ("release", 0)]  # type: ignore[union-attr]
    kinds = [k for k, _ in target.events]
    assert kinds.count("toy.locked") == 1 and kinds[-1] == "toy.unlocked"


class StuckCordon(ToyCordon):
    @classmethod
    def undo(cls, undo: Mapping[str, Any], kube: Any, compute: Any) -> list[str]:
        raise RuntimeError("apiserver gone")


def test_a_revert_that_fails_keeps_the_lock(tmp_path: Path) -> None:
    target = make(tmp_path)
    fault = StuckCordon(target, "n1")
    fault.inject()
    with pytest.raises(RuntimeError, match="apiserver gone"):
        fault.revert()
    assert target.lock.holds == 1 and target.ledger.read().outstanding  # type: ignore[union-attr]


def test_lock_held_by_another_game_day_refuses_before_any_write(tmp_path: Path) -> None:
    target = make(tmp_path, held_elsewhere=True)
    with pytest.raises(SafetyError, match="another game day"):
        ToyCordon(target, "n1").inject()
    assert target.kube.cluster["n1"] == "ok"
    assert not target.ledger.path.exists()


@pytest.mark.parametrize("error", [AssertionError("slo failed"), KeyError("bug")])
def test_with_block_reverts_on_failure_and_keeps_the_error(tmp_path: Path,
                                                           error: Exception) -> None:
    target = make(tmp_path)
    with pytest.raises(type(error)), ToyCordon(target, "n1"):
        raise error
    assert target.kube.cluster["n1"] == "ok"
    assert target.ledger.read().outstanding == ()


def test_half_injected_fault_reverts_itself(tmp_path: Path) -> None:
    target = make(tmp_path)
    with pytest.raises(RuntimeError, match="half-way"), ToyCordon(target, "n1",
                                                                 fail_after_write=True):
        pytest.fail("the body must not run when inject failed")
    assert target.kube.cluster["n1"] == "ok"
    assert target.ledger.read().outstanding == ()


def test_revert_is_idempotent(tmp_path: Path) -> None:
    target = make(tmp_path)
    fault = ToyCordon(target, "n1")
    fault.inject()
    assert fault.revert() == ["restored n1"]
    assert fault.revert() == []
    assert len(target.ledger.read().records) == 1


def test_disallowed_context_refused_before_any_write(tmp_path: Path) -> None:
    target = make(tmp_path, context="gke_prod")
    with pytest.raises(SafetyError, match="--allow-context gke_prod"):
        ToyCordon(target, "n1").inject()
    assert target.kube.cluster["n1"] == "ok"
    assert not target.ledger.path.exists()
    assert target.lock.log == []  # type: ignore[union-attr]


def test_dry_run_writes_nothing_and_reports_a_refusal(tmp_path: Path) -> None:
    target = make(tmp_path, context="gke_prod", dry_run=True)
    fault = ToyCordon(target, "n1")
    with fault as result:
        assert result.dry_run and "--allow-context" in (result.refused or "")
    assert target.kube.cluster["n1"] == "ok"
    assert not target.ledger.path.exists()
    assert target.lock.log == []  # type: ignore[union-attr]
    [plan] = [message for kind, message in target.events if kind == "toy.plan"]  # type: ignore[attr-defined]
    assert "PATCH node/n1" in plan and "REFUSED" in plan and "--allow-context" in plan


def test_dry_run_says_the_lock_would_refuse_and_takes_nothing(tmp_path: Path) -> None:
    target = make(tmp_path, dry_run=True, held_elsewhere=True)
    with ToyCordon(target, "n1") as result:
        assert "another game day" in (result.refused or "")
    assert target.lock.log == [("check", 0)]  # type: ignore[union-attr]
    assert target.kube.cluster["n1"] == "ok" and not target.ledger.path.exists()
