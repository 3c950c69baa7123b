"""Fixtures shared by the shipped scenarios: the application under test, provisioned.

The `app` fixture provisions the sample service (gameday/lab/manifests/app.yaml: valid on the
lab and on GKE) with server-side apply, waits until it is Ready, and puts the cluster back when
the test ends; on the lab, where `lab up` deployed it already, that writes nothing. On GKE:
- your own build of the sample app: `--gameday-set app_image=REGISTRY/sample-app:TAG`;
- your own app: `--gameday-set app_manifests=PATH` (a file or a folder) and
  `--gameday-set app_namespace=NS --gameday-set app_deployment=NAME` (and `app_service=NAME`
  when the Service the Ingress routes to is named otherwise);
- your app as it is deployed, provisioning nothing: `--gameday-set app_manifests=`.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pytest

from gameday.adapters.kube_types import label_selector
from gameday.gameday import GameDay
from gameday.provision import State, image

SAMPLE_APP = resources.files("gameday.lab") / "manifests" / "app.yaml"


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
    """The app under test, provisioned and fully available before the scenario starts."""
    namespace = gameday.param("app_namespace", "gameday-demo")
    name = gameday.param("app_deployment", "web")
    service = gameday.param("app_service", name)
    manifests = gameday.param("app_manifests", str(SAMPLE_APP))
    if manifests:
        ref = gameday.param("app_image", "")
        state = gameday.provision(State("app", manifests, namespace=namespace,
                                        knobs=(image(name, ref),) if ref else ()))
        created = any(s.action == "create" and s.ref.kind == "Deployment"
                      and s.ref.name == name for s in state.steps)
        if gameday.dry_run and created:  # nothing to read yet: the plan's document says it
            spec = state.doc("Deployment", name)["spec"]
            return App(namespace, name, int(spec.get("replicas", 1)), service,
                       label_selector(spec.get("selector") or {}))
    status = gameday.ensure_available(namespace, name, timeout_s=60)
    return App(namespace, name, status.desired, service, status.selector)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    """Every module here is a scenario, named for what it breaks (no `test_` prefix), so
    `pytest scenarios/` collects them all; explicit paths are already collected by pytest."""
    if (file_path.suffix == ".py" and file_path.name != "conftest.py"
            and not parent.session.isinitpath(file_path)):
        return pytest.Module.from_parent(parent, path=file_path)
    return None
