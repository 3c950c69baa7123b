"""The durable revert ledger: what every fault must undo, written down before it changes anything.

Why: a game day can be SIGKILLed mid-fault (CI timeout, laptop lid). The cluster must still be
put back, so before its first write a fault appends a record with everything its revert needs
(nodes cordoned, taints added, old MIG policy, stopped instances, old BackendConfig spec), and
after a successful revert it appends a `reverted` mark. `gameday recover --ledger PATH` replays
the records with no mark.

Format: JSON lines, one event per line, each line flushed and fsync'd (and the folder fsync'd
when the file is created), so an acknowledged record survives a power cut. Events:

    {"event": "open", "id": ..., "kind": ..., "context": ..., "undo": {...}, "at": ...}
    {"event": "reverted", "id": ..., "at": ...}

A crash in the middle of a write leaves a torn last line: reading tolerates it and reports it
(`LedgerState.torn`), and the next append starts on a fresh line so it never glues onto it.

Dry runs write nothing here: a dry run changes nothing, so there is nothing to undo, and a
ledger holding only real changes keeps `recover` honest. The plan of a dry run goes to the
evidence timeline instead.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LEDGER_NAME = "revert-ledger.jsonl"


@dataclass(frozen=True)
class RevertRecord:
    id: str
    kind: str  # the fault kind, e.g. "node_drain": selects the undo routine on recover
    context: str  # kube context the fault ran against
    undo: Mapping[str, Any]
    at: float  # wall clock of the record
    reverted: bool = False


@dataclass(frozen=True)
class LedgerState:
    records: tuple[RevertRecord, ...]
    torn: tuple[str, ...] = field(default=())  # unreadable lines, verbatim: one per crash

    @property
    def outstanding(self) -> tuple[RevertRecord, ...]:
        return tuple(r for r in self.records if not r.reverted)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Ledger:
    """Append-only; safe to share between the faults of one run (one process)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def in_run_folder(cls, run_dir: Path) -> Ledger:
        return cls(Path(run_dir) / LEDGER_NAME)

    def _append(self, event: Mapping[str, Any]) -> None:
        line = json.dumps(event, sort_keys=True, separators=(",", ":")) + "\n"
        created = not self.path.exists()
        if created:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as fh:
            if not created and fh.tell() > 0:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":  # a torn line from a crash: never glue onto it
                    line = "\n" + line
            fh.write(line.encode())
            fh.flush()
            os.fsync(fh.fileno())
        if created:
            _fsync_dir(self.path.parent)

    def open(self, kind: str, context: str, undo: Mapping[str, Any]) -> str:
        """Record what to undo; returns the record id. Call before the fault's first write."""
        record_id = f"{kind}-{uuid.uuid4().hex[:12]}"
        self._append({"event": "open", "id": record_id, "kind": kind, "context": context,
                      "undo": dict(undo), "at": time.time()})
        return record_id

    def mark_reverted(self, record_id: str) -> None:
        self._append({"event": "reverted", "id": record_id, "at": time.time()})

    def read(self) -> LedgerState:
        """Every record with its reverted flag, plus any torn lines (tolerated, reported)."""
        if not self.path.exists():
            return LedgerState(records=())
        opened: dict[str, RevertRecord] = {}
        reverted: set[str] = set()
        torn: list[str] = []
        for raw in self.path.read_bytes().splitlines():
            if not raw.strip():
                continue
            try:
                event = json.loads(raw)
                if event["event"] == "open":
                    opened[event["id"]] = RevertRecord(event["id"], event["kind"],
                                                       event["context"], event["undo"],
                                                       event["at"])
                elif event["event"] == "reverted":
                    reverted.add(event["id"])
                else:
                    raise KeyError(event["event"])
            except (ValueError, KeyError, TypeError):
                torn.append(raw.decode(errors="replace"))
        records = tuple(RevertRecord(r.id, r.kind, r.context, r.undo, r.at, r.id in reverted)
                        for r in opened.values())
        return LedgerState(records=records, torn=tuple(torn))
