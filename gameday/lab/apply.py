"""Apply the lab's YAML manifests (CRDs, the sample service) like `kubectl apply` would.

The dynamic client discovers each kind's API, so custom resources (BackendConfig) go through the
same path as Deployments. Server-side apply makes it idempotent without replacing objects
wholesale (a replaced Service would lose its allocated clusterIP and be refused).
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import yaml
from kubernetes import config as kube_config
from kubernetes import dynamic
from kubernetes.client.exceptions import ApiException

from gameday.errors import LabError

MANIFESTS = resources.files("gameday.lab") / "manifests"
FIELD_MANAGER = "gameday-lab"


def manifest(name: str) -> list[dict]:
    """The documents of one packaged manifest file."""
    return [d for d in yaml.safe_load_all((MANIFESTS / name).read_text()) if d]


def apply(kubeconfig: Path, docs: list[dict], timeout_s: float = 60) -> None:
    """Create or replace each document in order; CRDs are waited on until Established."""
    api = kube_config.new_client_from_config(str(kubeconfig))
    try:
        client = dynamic.DynamicClient(api)
        for doc in docs:
            _apply_one(client, doc, timeout_s)
    finally:
        api.close()


def _apply_one(client: dynamic.DynamicClient, doc: dict, timeout_s: float) -> None:
    kind, name = doc["kind"], doc["metadata"]["name"]
    deadline = time.monotonic() + timeout_s
    while True:  # a CR right after its CRD: discovery needs a moment to list the new kind
        try:
            res = client.resources.get(api_version=doc["apiVersion"], kind=kind)
            break
        except dynamic.exceptions.ResourceNotFoundError:
            if time.monotonic() > deadline:
                raise LabError(f"the apiserver does not serve {doc['apiVersion']} {kind}; "
                               "is its CRD applied?") from None
            client.resources.invalidate_cache()
            time.sleep(0.3)
    try:
        res.server_side_apply(body=doc, namespace=doc["metadata"].get("namespace"),
                              field_manager=FIELD_MANAGER, force_conflicts=True,
                              _request_timeout=10)
    except ApiException as exc:
        raise LabError(f"could not apply {kind}/{name}: {exc.reason} {exc.body}") from exc
    if kind == "CustomResourceDefinition":
        _wait_established(res, name, deadline)


def _wait_established(res: dynamic.Resource, name: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        crd = res.get(name=name, _request_timeout=10)
        conditions = (crd.status or {}).get("conditions") or []
        if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
            return
        time.sleep(0.2)
    raise LabError(f"CRD {name} was not Established in time")
