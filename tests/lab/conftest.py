"""Fixtures for tests on the real lab: API clients and a fresh namespace per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client, config

from gameday.adapters.compute import ComputeAdapter
from gameday.adapters.kube import KubeAdapter
from tests.conftest import LabHandle

pytestmark = pytest.mark.lab


@pytest.fixture(scope="session")
def api(lab: LabHandle) -> client.ApiClient:
    return config.new_client_from_config(str(lab.kubeconfig), context=lab.context)


@pytest.fixture(scope="session")
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture(scope="session")
def apps(api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture(scope="session")
def kube(lab: LabHandle) -> Iterator[KubeAdapter]:
    """The harness's own Kubernetes adapter on the lab."""
    adapter = KubeAdapter(lab.kubeconfig, lab.context)
    yield adapter
    adapter.close()


@pytest.fixture(scope="session")
def compute(lab: LabHandle) -> ComputeAdapter:
    """The harness's Compute adapter on the lab's GCE endpoint (the real client underneath)."""
    return ComputeAdapter(api_endpoint=lab.status["compute_endpoint"], timeout=10,
                          operation_timeout=30)


@pytest.fixture
def namespace(core: client.CoreV1Api) -> Iterator[str]:
    """A namespace of the test's own, deleted afterwards (its pods die with it)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}}, _request_timeout=10)
    yield name
    core.delete_namespace(name, _request_timeout=10)
