"""The fixture form of provisioning: a state set up once per test, module or session.

Why scopes: a state that takes minutes to roll out on GKE (a StatefulSet, a node pool's worth
of replicas) should be paid for once per module when its tests do not change it; a test that
breaks what it runs on wants its own. Test scope goes through `gameday.provision`, so the state
is in that test's evidence and undone when its game day closes; wider scopes are undone by the
fixture's teardown (and, after a crash, by `gameday recover`: the ledger holds them too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

import pytest

from gameday.provision.state import State

if TYPE_CHECKING:
    from gameday.gameday import GameDay
    from gameday.provision.provisioned import Provisioned
    from gameday.run import RunContext

DEFAULT_TIMEOUT_S = 300.0  # rolling out on GKE: image pulls, node scale-up


def state_fixture(state: State, *, scope: Literal["function", "module", "session"] = "function",
                  timeout_s: float = DEFAULT_TIMEOUT_S, name: str | None = None
                  ) -> Callable[..., Any]:
    """A pytest fixture provisioning `state`; assign it in a conftest or test module:
    `web_pdb = state_fixture(State("pdb", "k8s/"), scope="module")`."""
    if scope == "function":
        def per_test(gameday: GameDay) -> Provisioned:
            return gameday.provision(state, timeout_s=timeout_s)

        return pytest.fixture(name=name)(per_test)

    def wider(gameday_run: RunContext) -> Iterator[Provisioned]:
        done = provision_for_run(gameday_run, state, timeout_s)
        try:
            yield done
        finally:
            for line in done.close():
                gameday_run.narrator.say(f"state {state.name!r} undone: {line}")

    return pytest.fixture(scope=scope, name=name)(wider)


def provision_for_run(run: RunContext, state: State, timeout_s: float) -> Provisioned:
    """Provision with the run's cluster, ledger, context allowlist and dry-run setting."""
    from gameday.faults.safety import Safety
    from gameday.provision.provisioned import provision

    return provision(state, kube=run.kube, ledger=run.ledger,
                     safety=Safety(run.settings.allowed_contexts), dry_run=run.settings.dry_run,
                     timeout_s=timeout_s, say=run.narrator.say)
