"""The ingress load balancer against the real lab: Ingress + BackendConfig + EndpointSlices.

Uses the load balancer `lab up` starts, as a game day does.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from kubernetes import client

from tests.conftest import LabHandle
from tests.helpers import deployment, eventually

pytestmark = pytest.mark.lab
SAMPLE = "gameday-lab/sample-app:1"


def fetch(url: str, host: str = "shop.test") -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def synced(admin: str) -> bool:
    """The LB answers /healthz 200 (refused while it starts, 503 before its first sync)."""
    try:
        return fetch(f"http://{admin}/healthz")[0] == 200
    except urllib.error.URLError:
        return False


@pytest.fixture(scope="module")
def ingress_lb(lab: LabHandle) -> tuple[str, str]:
    """The lab's own load balancer, started by `lab up` (traffic URL, admin URL)."""
    eventually(lambda: synced(lab.status["ingress_admin_url"].removeprefix("http://")), 30,
               "LB synced")
    return lab.status["ingress_url"], lab.status["ingress_admin_url"]


def test_ingress_serves_ready_pods_with_backend_config_health_check(
        ingress_lb: tuple[str, str], api: client.ApiClient, apps: client.AppsV1Api,
        core: client.CoreV1Api, namespace: str) -> None:
    url, admin = ingress_lb
    probe = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 1}
    apps.create_namespaced_deployment(namespace, deployment(
        "web", SAMPLE, replicas=2, spread=False, probes={"readinessProbe": probe}))
    core.create_namespaced_service(namespace, {
        "metadata": {"name": "web", "annotations": {
            "cloud.google.com/backend-config": json.dumps({"default": "web-hc"})}},
        "spec": {"selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object("cloud.google.com", "v1", namespace, "backendconfigs", {
        "apiVersion": "cloud.google.com/v1", "kind": "BackendConfig",
        "metadata": {"name": "web-hc"},
        "spec": {"healthCheck": {"checkIntervalSec": 1, "unhealthyThreshold": 3}}})
    client.NetworkingV1Api(api).create_namespaced_ingress(namespace, {
        "metadata": {"name": "web"},
        "spec": {"rules": [{"host": "shop.test", "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}})
    service = f"{namespace}/web:80"

    def backends() -> dict:
        with urllib.request.urlopen(f"{admin}/debug/backends", timeout=5) as resp:
            return json.loads(resp.read())["backend_services"].get(service) or {}

    eventually(lambda: [e for e in backends().get("endpoints", []) if e["state"] == "HEALTHY"]
               and len(backends()["endpoints"]) == 2, 60, "2 healthy NEG endpoints")
    hc = backends()["health_check"]
    assert (hc["interval_s"], hc["unhealthy_threshold"], hc["request_path"]) == (1, 3, "/readyz")
    assert hc["source"] == f"BackendConfig {namespace}/web-hc"
    pods = {p.metadata.name for p in core.list_namespaced_pod(namespace).items}
    answers = {fetch(url)[1] for _ in range(20)}
    assert all(any(p in body for p in pods) for body in answers)
    # any other host falls through to the default backend: the lab's demo Ingress has one
    status, body = fetch(url, host="nobody.test")
    assert status == 200 and not any(p in body for p in pods)
