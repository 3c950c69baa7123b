"""The exporter and Prometheus on the real lab: cluster state and pod metrics, as on GKE.

Until `lab up` starts them itself, the test starts the exporter and Prometheus exactly as the
orchestrator should (the same module entry point and `prometheus_command`), so the wiring is
proven against the real apiserver (RBAC for the Prometheus identity included) and labd.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from gameday.lab import pki
from gameday.lab.procs import tail, terminate
from gameday.lab.profiles import get_profile
from gameday.lab.prometheus import (
    READY_PATH,
    PrometheusTargets,
    prometheus_command,
    write_config,
)
from gameday.lab.waits import free_port, http_ok
from tests.conftest import LabHandle
from tests.helpers import eventually

MANIFESTS = Path(__file__).parents[2] / "gameday" / "lab" / "manifests" / "app.yaml"
PROMETHEUS = Path("/usr/bin/prometheus")


@contextmanager
def _process(argv: list[str], log: Path, ready_url: str) -> Iterator[subprocess.Popen]:
    """Run a lab component until the block ends; fail with its log if it dies or never readies."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        eventually(lambda: proc.poll() is not None or http_ok(ready_url), 30,
                   f"{ready_url} ready", 0.1)
        assert proc.poll() is None, f"{argv[0]} exited:\n{tail(log)}"
        yield proc
    finally:
        terminate(proc)


@pytest.fixture(scope="module")
def exporter(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m gameday.lab.kubestate` on the lab; yields host:port."""
    listen = f"127.0.0.1:{free_port()}"
    log = tmp_path_factory.mktemp("kubestate") / "kubestate.log"
    argv = [sys.executable, "-m", "gameday.lab.kubestate", "--kubeconfig", str(lab.kubeconfig),
            "--context", lab.context, "--listen", listen]
    with _process(argv, log, f"http://{listen}/readyz"):
        yield listen


@pytest.fixture(scope="module")
def prometheus(lab: LabHandle, exporter: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The lab's Prometheus with the rendered config; yields its base URL."""
    if not PROMETHEUS.exists():
        pytest.skip("Debian's prometheus package is not installed")
    prom_dir = tmp_path_factory.mktemp("prometheus")
    keys = pki.Pki(lab.state_dir / "pki")
    targets = PrometheusTargets(
        apiserver=lab.status["apiserver_url"].removeprefix("https://"), ca_file=keys.ca_cert,
        token_file=keys.token_file("prometheus"),
        labd=lab.status["control_url"].removeprefix("http://"),
        ingress_admin=f"127.0.0.1:{free_port()}", kubestate=exporter)
    config = write_config(get_profile(lab.state.config.profile), targets, prom_dir)
    listen = f"127.0.0.1:{free_port()}"
    with _process(prometheus_command(PROMETHEUS, prom_dir, listen, config),
                  prom_dir / "prometheus.log", f"http://{listen}{READY_PATH}"):
        yield f"http://{listen}"


def _query(base: str, promql: str, by: str = "") -> dict[str, float]:
    """Instant query; result as {value of label `by` ("" when absent): value}."""
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=5) as resp:
        result = json.loads(resp.read())["data"]["result"]
    return {r["metric"].get(by, ""): float(r["value"][1]) for r in result}


@pytest.fixture
def web(apps: client.AppsV1Api, namespace: str) -> str:
    """The shipped `web` Deployment, in the test's namespace, all replicas ready."""
    (deployment,) = [d for d in yaml.safe_load_all(MANIFESTS.read_text())
                     if d["kind"] == "Deployment"]
    deployment["metadata"]["namespace"] = namespace
    apps.create_namespaced_deployment(namespace, deployment, _request_timeout=10)
    eventually(lambda: apps.read_namespaced_deployment("web", namespace).status.ready_replicas
               == 6, 45, "6 ready web replicas")
    return namespace


def test_exporter_serves_cluster_state_and_pod_targets(exporter: str, web: str) -> None:
    def targets() -> list[dict]:
        with urllib.request.urlopen(f"http://{exporter}/sd/pods", timeout=5) as resp:
            return [t for t in json.loads(resp.read()) if t["labels"]["namespace"] == web]

    found = eventually(lambda: len(targets()) == 6 and targets(), 10, "6 pod targets")
    zones = sorted(t["labels"]["zone"] for t in found)
    assert zones == ["europe-west1-b"] * 2 + ["europe-west1-c"] * 2 + ["europe-west1-d"] * 2
    assert all(t["targets"][0].startswith("127.") and t["targets"][0].endswith(":8080")
               for t in found)


def test_prometheus_scrapes_lab_components_and_pods(prometheus: str, web: str) -> None:
    eventually(lambda: _query(prometheus, f'count(up{{job="pods", namespace="{web}"}} == 1)')
               == {"": 6}, 20, "6 web pods scraped through http_sd")
    def up() -> dict[str, float]:
        return _query(prometheus, "max by (job) (up)", by="job")

    static = {"kube-apiserver", "gameday-labd", "kube-state-metrics"}
    eventually(lambda: static <= set(up()), 10, "static jobs scraped")
    assert up()["kube-apiserver"] == 1, "the prometheus identity may read the apiserver /metrics"
    assert up()["gameday-labd"] == up()["kube-state-metrics"] == 1
    available = f'kube_deployment_status_replicas_available{{namespace="{web}", deployment="web"}}'
    eventually(lambda: _query(prometheus, available, by="job") == {"kube-state-metrics": 6}, 10,
               "6 available replicas in kube-state-metrics series")
    ready_nodes = _query(prometheus, 'sum(kube_node_status_condition{condition="Ready", '
                                     'status="true"})')
    assert ready_nodes == {"": 6}
    per_zone = _query(prometheus, f'sum by (zone) (up{{job="pods", namespace="{web}"}})',
                      by="zone")
    assert per_zone == {"europe-west1-b": 2, "europe-west1-c": 2, "europe-west1-d": 2}
