"""Fixtures shared by the shipped scenarios: the application under test.

On the lab the sample service (gameday-demo/web) is deployed by `lab up`; these fixtures make
sure it is there and healthy before a scenario starts, and re-apply it if a user removed it.
On GKE point them at your own app with `--gameday-set app_namespace=NS --gameday-set
app_deployment=NAME` (and `--gameday-set app_service=NAME` when the Service is named otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from gameday.gameday import GameDay


@dataclass(frozen=True)
class App:
    """The Deployment a scenario protects: where it runs and how many replicas it wants."""

    namespace: str
    deployment: str
    replicas: int
    service: str  # the Service the Ingress routes to (its BackendConfig holds the health check)
    selector: str  # its pods: the Deployment's own spec.selector, whatever its labels are


@pytest.fixture
def app(gameday: GameDay) -> App:
    """The app under test, fully available before the scenario starts (else a clear error)."""
    namespace = gameday.param("app_namespace", "gameday-demo")
    name = gameday.param("app_deployment", "web")
    service = gameday.param("app_service", name)
    lab = gameday.run.target.lab
    if (lab is not None and not gameday.dry_run and (namespace, name) == ("gameday-demo", "web")
            and not gameday.kube.list_pods(namespace, f"app={name}")):
        from gameday.lab.apply import apply, manifest

        apply(lab.kubeconfig, manifest("app.yaml"))  # puts back the demo app a user removed
    status = gameday.ensure_available(namespace, name, timeout_s=60)
    return App(namespace, name, status.desired, service, status.selector)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    """Every module here is a scenario, named for what it breaks (no `test_` prefix), so
    `pytest scenarios/` collects them all; explicit paths are already collected by pytest."""
    if (file_path.suffix == ".py" and file_path.name != "conftest.py"
            and not parent.session.isinitpath(file_path)):
        return pytest.Module.from_parent(parent, path=file_path)
    return None
