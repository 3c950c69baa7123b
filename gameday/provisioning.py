"""The provisioning half of `GameDay`: `gameday.provision(state)` (gameday/provision/).

Kept out of gameday.py like the load and the verdicts. A state provisioned here belongs to the
test: its name is the evidence parameter `state` (so a scenario parametrized over two states
shows which one each report is about), its plan and readiness go into the timeline, and it is
undone when the game day closes — after the faults are reverted, on every exit path.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gameday.evidence import Evidence

if TYPE_CHECKING:
    from gameday.provision.provisioned import Provisioned
    from gameday.provision.state import State
    from gameday.run import RunContext


class Provisioning:
    """Provision states for one test; `close_states` undoes them."""

    evidence: Evidence
    run: RunContext
    _states: list[Provisioned]

    def provision(self, state: State | str | Path | Mapping[str, Any], *,
                  timeout_s: float | None = None) -> Provisioned:
        """Apply a state (or a manifest file / folder / object, as state "manifests") with
        server-side apply, wait until its workloads are rolled out and Ready, and undo it at
        the end of the test. A dry run tells the plan and writes nothing."""
        from gameday.provision.fixture import DEFAULT_TIMEOUT_S, provision_for_run
        from gameday.provision.state import State

        if not isinstance(state, State):
            state = State("manifests", (state,))
        bound = timeout_s if timeout_s is not None else DEFAULT_TIMEOUT_S
        earlier = self.evidence.parameters.get("state")
        self.evidence.parameters["state"] = f"{earlier}+{state.name}" if earlier else state.name
        started = time.monotonic()
        done = provision_for_run(self.run, state, bound)
        self._states.append(done)
        self.evidence.event("provision.plan", f"state {state.name}: "
                            + ("; ".join(done.plan_lines()) or "no objects"), source="gameday",
                            data={"state": state.name, "dry_run": done.dry_run,
                                  "steps": done.plan_lines()})
        if not done.dry_run:
            took = time.monotonic() - started
            self.evidence.figures[f"provision.{state.name}.ready_s"] = round(took, 3)
            self.evidence.event("provision.ready", f"state {state.name} rolled out and Ready "
                                f"in {took:.1f}s ({len(done.writes)} object(s) written)",
                                source="gameday")
        return done

    def close_states(self) -> None:
        """Undo the test's states, newest first; every one is tried before an error is raised."""
        errors: list[BaseException] = []
        while self._states:
            done = self._states.pop()
            try:
                lines = done.close()
            except Exception as exc:  # the next state must still be undone
                errors.append(exc)
                continue
            if lines:
                self.evidence.event("provision.undone", f"state {done.state.name}: "
                                    + "; ".join(lines), source="gameday")
        if errors:
            raise errors[0]
