"""The lab runs the official Locust image's pods for real, driven through the apiserver's pod
proxy: what in-cluster load placement needs of the lab, checked without gameday.load.cluster.

The pods are built by hand here in the shape cluster placement uses (bundle ConfigMap mounted at
/mnt/gameday with `items`, `$(POD_IP)` args, prometheus.io annotations, restartPolicy Never), so
a regression shows up as a lab failure, not as a load-placement one.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from gameday.adapters.kube import KubeAdapter, KubeApiError
from gameday.adapters.prometheus import PromClient
from gameday.load.bundle import MOUNT_PATH, Bundle, build_bundle
from tests.conftest import LabHandle
from tests.helpers import eventually

IMAGE = "locustio/locust:2.47.0"
STUB_MARKER = "gameday stub package imported from"
WEB, METRICS, MASTER_PORT = 8089, 9646, 5557
IDLE_LOCUSTFILE = ("from locust import User, constant, task\n\n\nclass Idle(User):\n"
                   "    wait_time = constant(1)\n\n    @task\n    def nothing(self):\n"
                   "        pass\n")


@pytest.fixture(autouse=True)
def _no_leftover_processes(namespace: str) -> Iterator[None]:
    """Whatever a test leaves running is a lab bug: the namespace's pods' processes must end."""
    yield
    eventually(lambda: not _pids(namespace), 30, f"processes of {namespace} to end")


def _bundle() -> Bundle:
    """The load bundle, its stub `gameday/__init__.py` announcing itself in the pod's log: the
    proof that Locust imports the mounted package, not the venv's editable gameday."""
    bundle = build_bundle(None, None)
    (key,) = [k for k, path in bundle.paths.items() if path == "gameday/__init__.py"]
    data = {**bundle.data, key: f"import sys\nprint({STUB_MARKER!r}, __file__, file=sys.stderr)\n"}
    return Bundle(data, bundle.paths)


def _locust_pod(name: str, args: list[str], bundle: Bundle, configmap: str,
                deadline_s: int = 600) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "gameday-load"},
                     "annotations": {"prometheus.io/scrape": "true",
                                     "prometheus.io/port": str(METRICS)}},
        "spec": {
            "restartPolicy": "Never", "activeDeadlineSeconds": deadline_s,
            "terminationGracePeriodSeconds": 10,
            "containers": [{
                "name": "locust", "image": IMAGE, "args": ["-f", bundle.entry_path, *args],
                "env": [{"name": "POD_IP",
                         "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                        {"name": "GAMEDAY_LOAD_METRICS_ADDR", "value": "$(POD_IP)"},
                        {"name": "GAMEDAY_LOAD_METRICS_PORT", "value": str(METRICS)}],
                "volumeMounts": [{"name": "gameday", "mountPath": MOUNT_PATH,
                                  "readOnly": True}],
            }],
            "volumes": [{"name": "gameday",
                         "configMap": {"name": configmap, "items": bundle.items}}],
        },
    }


def _simple_pod(name: str, container: dict, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 5,
                     "containers": [{"name": "locust", "image": IMAGE, **container}], **spec}}


def _pids(namespace: str, pod: str = "") -> list[int]:
    """Ground truth: the local processes of a lab pod, or of every pod of the namespace
    (their argv names the pod's folder)."""
    folder = f"/volumes/{namespace}_{pod}_" if pod else f"/volumes/{namespace}_"
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:  # exited while we looked
            continue
        if folder in cmdline:
            pids.append(int(proc.name))
    return pids


def _ignores_sigterm(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    ignored = next(int(line.split()[1], 16) for line in status.splitlines()
                   if line.startswith("SigIgn:"))
    return bool(ignored & (1 << (signal.SIGTERM - 1)))


def _pod(core: client.CoreV1Api, namespace: str, name: str) -> client.V1Pod:
    return core.read_namespaced_pod(name, namespace, _request_timeout=10)


def _ready(core: client.CoreV1Api, namespace: str, name: str) -> client.V1Pod | None:
    pod = _pod(core, namespace, name)
    conditions = {c.type: c.status for c in pod.status.conditions or []}
    return pod if conditions.get("Ready") == "True" else None


def _phase(core: client.CoreV1Api, namespace: str, name: str) -> str:
    return _pod(core, namespace, name).status.phase


def _events(core: client.CoreV1Api, namespace: str, pod: str) -> dict[str, str]:
    """reason -> message of the pod's Events."""
    events = core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={pod}",
                                        _request_timeout=10).items
    return {e.reason: e.message for e in events}


def _stats(kube: KubeAdapter, namespace: str, master: str) -> dict:
    return kube.request("GET", f"/api/v1/namespaces/{namespace}/pods/{master}:{WEB}/proxy/"
                               "stats/requests")


def _requests(stats: dict) -> int:
    return next((s["num_requests"] for s in stats["stats"] if s["name"] == "Aggregated"), 0)


def test_locust_master_and_worker_pods_run_and_are_driven_through_the_pod_proxy(
        lab: LabHandle, kube: KubeAdapter, core: client.CoreV1Api, namespace: str) -> None:
    bundle = _bundle()
    target = lab.status["ingress_url"]
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "load"},
                                                  "data": bundle.data}, _request_timeout=10)
    created = time.monotonic()
    core.create_namespaced_pod(namespace, _locust_pod("master", [
        "--master", "--master-bind-host=$(POD_IP)", f"--master-bind-port={MASTER_PORT}",
        "--web-host=$(POD_IP)", f"--web-port={WEB}", f"--host={target}"], bundle, "load"),
        _request_timeout=10)
    master = eventually(lambda: _ready(core, namespace, "master"), 30, "master pod Ready")
    core.create_namespaced_pod(namespace, _locust_pod("worker", [
        "--worker", f"--master-host={master.status.pod_ip}", f"--master-port={MASTER_PORT}"],
        bundle, "load"), _request_timeout=10)
    proxy = f"/api/v1/namespaces/{namespace}/pods/master:{WEB}/proxy"

    def connected() -> bool:
        try:
            return _stats(kube, namespace, "master")["worker_count"] == 1
        except KubeApiError:  # not listening yet: the proxy answers 500, connection refused
            return False

    eventually(connected, 60, "the worker connected, seen through the pod proxy")
    swarm = kube.request("POST", f"{proxy}/swarm",
                         form={"user_count": 4, "spawn_rate": 4, "host": target})
    print(f"pod created -> /swarm accepted: {time.monotonic() - created:.1f}s")
    assert swarm["success"], swarm
    stats = eventually(lambda: (s := _stats(kube, namespace, "master"))["user_count"] == 4
                       and _requests(s) > 0 and s, 30, "4 users sending requests")
    assert stats["worker_count"] == 1

    prom = PromClient(lab.status["prometheus_url"])
    series = f'gameday_load_requests_total{{namespace="{namespace}",pod="worker",code="200"}}'
    eventually(lambda: (found := prom.query(f"sum({series})")) and found[0].value > 0, 30,
               f"{series} scraped by the lab's Prometheus (prometheus.io annotations)")

    logs = list((lab.state_dir / "pods").glob(f"*/{namespace}_worker_locust.log"))
    assert len(logs) == 1 and STUB_MARKER in logs[0].read_text(), logs
    assert kube.request("POST", f"{proxy}/stop", form={})["success"]

    master_pids, worker_pids = _pids(namespace, "master"), _pids(namespace, "worker")
    assert master_pids and worker_pids
    core.delete_namespaced_pod("master", namespace, _request_timeout=10)
    # the master's SIGTERM makes Locust tell its worker to quit: the worker exits 0 by itself
    eventually(lambda: _phase(core, namespace, "worker") == "Succeeded", 30,
               "worker pod Succeeded after its master quit")
    core.delete_namespaced_pod("worker", namespace, _request_timeout=10)
    eventually(lambda: not _pids(namespace, "master") and not _pids(namespace, "worker"), 20,
               "no process left of the deleted pods")
    eventually(lambda: not list((lab.state_dir / "pods").glob(f"*/volumes/{namespace}_*")), 20,
               "the deleted pods' volume folders removed")


def test_locust_pods_end_by_exit_code_and_report_what_cannot_run(
        core: client.CoreV1Api, namespace: str) -> None:
    pods = {
        "version": _simple_pod("version", {"command": ["/usr/local/bin/locust"],
                                           "args": ["--version"]}),
        "bad-flag": _simple_pod("bad-flag", {"args": ["--no-such-flag"]}),
        "shell": _simple_pod("shell", {"command": ["sh", "-c", "locust --version"]}),
        "deadline": _simple_pod("deadline", {
            "args": ["-f", "/mnt/idle/locustfile.py", "--master", "--web-host=$(POD_IP)",
                     "--master-bind-host=$(POD_IP)"],
            "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
            "volumeMounts": [{"name": "idle", "mountPath": "/mnt/idle"}]},
            activeDeadlineSeconds=4, volumes=[{"name": "idle", "configMap": {"name": "idle"}}]),
    }
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "idle"},
                                                  "data": {"locustfile.py": IDLE_LOCUSTFILE}},
                                      _request_timeout=10)
    for pod in pods.values():
        core.create_namespaced_pod(namespace, pod, _request_timeout=10)
    phases = {"version": "Succeeded", "bad-flag": "Failed", "shell": "Failed",
              "deadline": "Failed"}
    eventually(lambda: {n: _phase(core, namespace, n) for n in pods} == phases, 30,
               f"pods ending as {phases}",
               explain=lambda: {n: _phase(core, namespace, n) for n in pods})
    terminated = {n: _pod(core, namespace, n).status.container_statuses[0].state.terminated
                  for n in ("version", "bad-flag", "shell")}
    assert terminated["version"].exit_code == 0
    assert terminated["bad-flag"].exit_code != 0 and terminated["bad-flag"].reason == "Error"
    assert terminated["shell"].reason == "StartError"
    assert '"sh"' in terminated["shell"].message
    assert '"sh"' in _events(core, namespace, "shell")["Failed"]
    deadline = _pod(core, namespace, "deadline").status
    assert deadline.reason == "DeadlineExceeded", deadline  # not an exit of its own
    assert not _pids(namespace, "deadline")


def test_a_pod_waits_for_its_configmap_like_on_a_kubelet(
        core: client.CoreV1Api, namespace: str) -> None:
    pod = _simple_pod("waits", {
        "args": ["-f", "/mnt/files/sub/locustfile.py", "--headless", "-u", "1", "-t", "1s"],
        "volumeMounts": [{"name": "files", "mountPath": "/mnt/files"}]},
        volumes=[{"name": "files", "configMap": {"name": "late", "items": [
            {"key": "locustfile", "path": "sub/locustfile.py"}]}}])
    core.create_namespaced_pod(namespace, pod, _request_timeout=10)
    event = eventually(lambda: _events(core, namespace, "waits").get("FailedMount"), 20,
                       "a FailedMount event")
    assert 'configmap "late" not found' in event
    status = _pod(core, namespace, "waits").status
    assert status.phase == "Pending" and not status.pod_ip
    assert status.container_statuses[0].state.waiting.reason == "ContainerCreating"
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "late"},
                                                  "data": {"locustfile": IDLE_LOCUSTFILE}},
                                      _request_timeout=10)
    # a headless run of 1 s: exits 0 only if the mounted locustfile was found and loaded
    eventually(lambda: _phase(core, namespace, "waits") in ("Succeeded", "Failed"), 40,
               "the pod ran once its ConfigMap existed")
    assert _phase(core, namespace, "waits") == "Succeeded"


def test_deleting_a_pod_that_ignores_sigterm_kills_it_after_its_grace(
        core: client.CoreV1Api, namespace: str) -> None:
    stubborn = ("import signal\nimport time\n\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                "time.sleep(3600)\n")
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "stubborn"},
                                                  "data": {"locustfile.py": stubborn}},
                                      _request_timeout=10)
    core.create_namespaced_pod(namespace, _simple_pod("stubborn", {
        "args": ["-f", "/mnt/s/locustfile.py"],
        "volumeMounts": [{"name": "s", "mountPath": "/mnt/s"}]},
        terminationGracePeriodSeconds=2,
        volumes=[{"name": "s", "configMap": {"name": "stubborn"}}]), _request_timeout=10)
    eventually(lambda: any(_ignores_sigterm(pid) for pid in _pids(namespace, "stubborn")), 30,
               "the stubborn process ignoring SIGTERM (its locustfile imported)")
    deleted = time.monotonic()
    core.delete_namespaced_pod("stubborn", namespace, _request_timeout=10)
    eventually(lambda: not _pids(namespace, "stubborn"), 15, "the stubborn process killed")
    took = time.monotonic() - deleted
    assert 1.5 <= took <= 10, f"SIGTERM ignored, SIGKILL due after the 2 s grace; took {took:.1f}s"
