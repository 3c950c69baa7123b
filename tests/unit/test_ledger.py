"""The revert ledger: durable records, reverted marks, torn last lines."""

from __future__ import annotations

import json
from pathlib import Path

from gameday.faults.ledger import LEDGER_NAME, Ledger


def test_open_then_revert_leaves_nothing_outstanding(tmp_path: Path) -> None:
    ledger = Ledger.in_run_folder(tmp_path / "run")
    first = ledger.open("node_drain", "gameday-lab", {"nodes": ["n1", "n2"]})
    second = ledger.open("zone_outage", "gameday-lab", {"mode": "k8s", "nodes": ["n3"]})
    ledger.mark_reverted(first)
    state = ledger.read()
    assert ledger.path == tmp_path / "run" / LEDGER_NAME
    assert [r.id for r in state.outstanding] == [second]
    assert state.outstanding[0].undo == {"mode": "k8s", "nodes": ["n3"]}
    assert state.outstanding[0].kind == "zone_outage"
    assert state.torn == ()
    assert all(json.loads(line) for line in ledger.path.read_text().splitlines())


def test_missing_file_reads_as_empty(tmp_path: Path) -> None:
    assert Ledger(tmp_path / "none.jsonl").read().records == ()


def test_torn_last_line_is_reported_and_next_append_starts_fresh(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / LEDGER_NAME)
    kept = ledger.open("pod_kill", "ctx", {"pods": ["a"]})
    with open(ledger.path, "ab") as fh:  # a crash in the middle of the second write
        fh.write(b'{"event":"open","id":"node_drain-x","kind":"node_dr')
    state = ledger.read()
    assert [r.id for r in state.outstanding] == [kept]
    assert state.torn == ('{"event":"open","id":"node_drain-x","kind":"node_dr',)

    ledger.mark_reverted(kept)
    after = ledger.read()
    assert after.outstanding == ()
    assert len(after.torn) == 1  # the torn line is still reported, and nothing glued onto it


def test_records_survive_a_new_ledger_object(tmp_path: Path) -> None:
    """What recover relies on: another process (a new object) sees the same records."""
    path = tmp_path / LEDGER_NAME
    rid = Ledger(path).open("node_drain", "ctx", {"nodes": ["n1"]})
    assert [r.id for r in Ledger(path).read().outstanding] == [rid]
