"""Fixtures shared by the shipped scenarios: the application under test.

On the lab the sample service (gameday-demo/web) is deployed by `lab up`; these fixtures make
sure it is there and healthy before a scenario starts, and re-apply it if a user removed it.
On GKE point them at your own app with `--gameday-set app_namespace=NS --gameday-set
app_deployment=NAME` (and `--gameday-set app_service=NAME` when the Service is named otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gameday.gameday import GameDay


@dataclass(frozen=True)
class App:
    """The Deployment a scenario protects: where it runs and how many replicas it wants."""

    namespace: str
    deployment: str
    replicas: int
    service: str  # the Service the Ingress routes to (its BackendConfig holds the health check)

    @property
    def selector(self) -> str:
        return f"app={self.deployment}"


@pytest.fixture
def app(gameday: GameDay) -> App:
    """The app under test, fully available before the scenario starts (else a clear error)."""
    namespace = gameday.param("app_namespace", "gameday-demo")
    name = gameday.param("app_deployment", "web")
    service = gameday.param("app_service", name)
    status = gameday.ensure_available(namespace, name, timeout_s=60)
    return App(namespace, name, status.desired, service)
