"""The lab's data plane as a game day sees it: the ingress in front of the demo app, the 502
window after a backend dies without warning, and Prometheus scraping every target family."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest
from kubernetes import client

from gameday.adapters.prometheus import PromClient
from gameday.lab.control_client import LabControl
from tests.conftest import LabHandle
from tests.helpers import eventually

pytestmark = pytest.mark.lab
NS, APP = "gameday-demo", "web"


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def zones_by_node(core: client.CoreV1Api) -> dict[str, str]:
    return {n.metadata.name: n.metadata.labels["topology.kubernetes.io/zone"]
            for n in core.list_node().items}


def demo_endpoints(lab: LabHandle) -> list[dict]:
    """The LB's NEG endpoints of the demo app, with their health-check state."""
    with urllib.request.urlopen(lab.status["ingress_admin_url"] + "/debug/backends",
                                timeout=5) as resp:
        services = json.loads(resp.read())["backend_services"]
    return next((s.get("endpoints", []) for name, s in services.items()
                 if name.startswith(f"{NS}/{APP}:")), [])


def test_ingress_spreads_traffic_over_every_zone(lab: LabHandle,
                                                 core: client.CoreV1Api) -> None:
    zones = zones_by_node(core)
    # an earlier test's powered-off node takes its replica away for a while
    def all_six_healthy() -> bool:
        endpoints = demo_endpoints(lab)
        return len(endpoints) == 6 and all(e["state"] == "HEALTHY" for e in endpoints)

    eventually(all_six_healthy, 60, "6 healthy demo backends",
               explain=lambda: demo_endpoints(lab))
    answers = [get(lab.status["ingress_url"] + "/") for _ in range(60)]
    assert all(code == 200 for code, _ in answers), Counter(code for code, _ in answers)
    seen = Counter(zones[body["node"]] for _, body in answers)
    assert set(seen) == set(zones.values()), seen
    assert min(seen.values()) >= 10, seen  # round robin over 6 backends, 2 per zone


def test_dead_backend_gets_502s_only_until_the_unhealthy_threshold(
        lab: LabHandle, core: client.CoreV1Api, apps: client.AppsV1Api) -> None:
    # a serving replica (Failed pods of earlier graceful shutdowns linger until pod GC)
    pod = next(p for p in core.list_namespaced_pod(NS, label_selector=f"app={APP}").items
               if p.status.phase == "Running" and p.metadata.deletion_timestamp is None)
    node = pod.spec.node_name
    LabControl(lab.status["control_url"]).power_off(node, "abrupt")  # the API is not told
    killed = time.monotonic()
    codes: list[tuple[float, int]] = []
    try:
        while time.monotonic() - killed < 6:
            codes.append((time.monotonic() - killed, get(lab.status["ingress_url"] + "/")[0]))
            time.sleep(0.01)
    finally:
        LabControl(lab.status["control_url"]).power_on(node)
    errors = [t for t, code in codes if code == 502]
    # fast profile: interval 1 s, timeout 1 s, unhealthy threshold 2 -> at most ~3 s
    assert errors, "traffic should still reach the dead backend before the LB notices"
    assert max(errors) < 3.5, f"502s until {max(errors):.2f}s after the kill"
    assert all(code == 200 for t, code in codes if t > 3.5)
    eventually(lambda: apps.read_namespaced_deployment(APP, NS).status.ready_replicas == 6,
               60, "the demo app fully ready again")


@pytest.mark.parametrize("job", ["kube-apiserver", "gameday-labd", "gameday-ingress",
                                 "kube-state-metrics", "pods"])
def test_prometheus_scrapes_every_target_family(lab: LabHandle, job: str) -> None:
    prom = PromClient(lab.status["prometheus_url"])

    def all_up() -> list:
        up = prom.query(f'up{{job="{job}"}}')
        return up if up and all(s.value == 1.0 for s in up) else []

    # eventually: a pod target of the previous test's powered-off node may still be settling
    eventually(all_up, 30, f"every up{{job={job}}} = 1")


@pytest.mark.parametrize("promql", [
    'kube_node_status_condition{condition="Ready",status="true"}',
    "kube_node_labels", 'kube_pod_status_ready{condition="true",namespace="gameday-demo"}',
    'kube_pod_info{namespace="gameday-demo"}',
    'kube_deployment_status_replicas_available{deployment="web"}',
    'kube_deployment_spec_replicas{deployment="web"}',
    "gameday_lb_backend_healthy", "http_requests_total", "gameday_lab_node_powered",
    "apiserver_request_total",
])
def test_prometheus_answers_each_family(lab: LabHandle, promql: str) -> None:
    prom = PromClient(lab.status["prometheus_url"])
    assert eventually(lambda: prom.query(promql), 20, promql)
