"""Zone operations: what every mutating call returns, and what `zoneOperations.wait` blocks on.

Why its own log: GCE reports outcomes only through operations (the client's `.result()` polls
`zoneOperations.get`), and some facts exist nowhere else — a preemption is visible afterwards
only as a `compute.instances.preempted` system operation. Operations are kept, as on GCE, after
they finish; the oldest finished ones are dropped past `MAX_OPERATIONS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from dataclasses import dataclass, field

from gameday.lab.compute.errors import not_found

MAX_OPERATIONS = 10_000
USER = "gameday-lab@anonymous"  # the caller's principal; the lab has no auth
SYSTEM = "system"  # GCE's user for events it starts itself (preemption, MIG repair)
GLOBAL = "global"  # the "zone" of global operations (firewall rules): globalOperations.*


@dataclass(frozen=True)
class OperationError:
    """Why an operation failed: the HTTP status the call would have had, and GCE's reason."""

    status: int
    reason: str
    message: str


@dataclass
class Operation:
    """One zone operation; times are wall-clock seconds (None until reached)."""

    id: int
    name: str
    zone: str
    operation_type: str  # e.g. compute.instances.stop
    target: str  # resource path: projects/P/zones/Z/instances/N
    target_id: int
    user: str
    insert_time: float
    start_time: float | None = None
    end_time: float | None = None
    status: str = "PENDING"  # PENDING, RUNNING, DONE
    error: OperationError | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def progress(self) -> int:
        """0 until DONE, then 100: GCE's progress field is that coarse for instance ops too."""
        return 100 if self.status == "DONE" else 0


class OperationLog:
    """All zone operations of the lab project, by zone and name."""

    def __init__(self, project: str, rng: random.Random) -> None:
        self._project = project
        self._rng = rng
        self._ops: dict[tuple[str, str], Operation] = {}
        self._seq = itertools.count()

    def begin(self, zone: str, operation_type: str, target: str, target_id: int,
              *, user: str = USER) -> Operation:
        """Record a new RUNNING operation and return it."""
        now = time.time()
        prefix = "systemevent" if user == SYSTEM else "operation"
        name = (f"{prefix}-{int(now * 1000)}-{next(self._seq):013x}-"
                f"{self._rng.getrandbits(32):08x}-{self._rng.getrandbits(32):08x}")
        op = Operation(id=self._rng.randrange(10**18, 10**19), name=name, zone=zone,
                       operation_type=operation_type, target=target, target_id=target_id,
                       user=user, insert_time=now, start_time=now, status="RUNNING")
        self._ops[(zone, name)] = op
        self._prune()
        return op

    def finish(self, op: Operation, error: OperationError | None = None) -> None:
        """Mark DONE (idempotent: a superseded flow may finish its operation twice)."""
        if op.status == "DONE":
            return
        op.status = "DONE"
        op.error = error
        op.end_time = time.time()
        op.done.set()

    def record(self, zone: str, operation_type: str, target: str, target_id: int,
               *, user: str = SYSTEM) -> Operation:
        """An operation that is over as soon as it is known (e.g. compute.instances.preempted)."""
        op = self.begin(zone, operation_type, target, target_id, user=user)
        self.finish(op)
        return op

    def get(self, zone: str, name: str) -> Operation:
        """The operation, or GCE's 404."""
        try:
            return self._ops[(zone, name)]
        except KeyError:
            raise not_found(f"projects/{self._project}/zones/{zone}/operations/{name}") from None

    async def wait(self, zone: str, name: str, timeout: float) -> Operation:
        """Block until DONE or `timeout` (then return it unfinished, as GCE's wait does)."""
        op = self.get(zone, name)
        # past the timeout, wait returns the still-running operation: the caller polls again
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(op.done.wait(), timeout)
        return op

    def list(self, zone: str) -> list[Operation]:
        """Operations of one zone, oldest first."""
        return [op for (z, _), op in self._ops.items() if z == zone]

    def _prune(self) -> None:
        excess = len(self._ops) - MAX_OPERATIONS
        for key in [k for k, op in self._ops.items() if op.status == "DONE"][:max(excess, 0)]:
            del self._ops[key]
