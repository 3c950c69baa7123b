"""The sample service as the hollow node runs it: a real process on its own 127.x address."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from gameday.lab.hollow.images import program_for
from gameday.lab.images.sample_app import AppConfig, parse_config
from gameday.lab.ingress.backendconfig import apply_health_check, backend_config_name
from gameday.lab.ingress.healthcheck import HealthCheckSettings
from gameday.lab.profiles import get_profile
from tests.helpers import eventually

MANIFESTS = Path(__file__).parents[2] / "gameday" / "lab" / "manifests" / "app.yaml"


@dataclass
class Pod:
    """One sample-app process and the address it binds, like a lab pod."""

    proc: subprocess.Popen
    base: str
    started: float


def catches_sigterm(pid: int) -> bool:
    """True once the process handles SIGTERM (bit 15 of SigCgt in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def _address() -> tuple[str, int]:
    """A free port on a random 127.x address, the way pod IPs are handed out in the lab."""
    host = f"127.{random.randint(100, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"
    with socket.socket() as s:
        s.bind((host, 0))
        return host, s.getsockname()[1]


def _get(url: str, timeout_s: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _listening(pod: Pod) -> bool:
    try:
        return _get(pod.base + "/healthz", 1)[0] == 200
    except OSError:
        return False


@pytest.fixture
def start_pod() -> Iterator:
    pods: list[Pod] = []

    def start(wait: bool = True, **env: str) -> Pod:
        host, port = _address()
        full_env = {"PATH": os.environ.get("PATH", ""), "GAMEDAY_POD_IP": host,
                    "PORT": str(port), "GAMEDAY_POD_NAME": "web-1", "GAMEDAY_NODE_NAME": "node-b-0",
                    "GAMEDAY_POD_NAMESPACE": "demo", **env}
        proc = subprocess.Popen([sys.executable, "-m", "gameday.lab.images.sample_app"],
                                env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        pod = Pod(proc, f"http://{host}:{port}", time.monotonic())
        pods.append(pod)
        if wait:
            eventually(lambda: _listening(pod), 10, "sample app listening", 0.02)
        return pod

    yield start
    for pod in pods:
        if pod.proc.poll() is None:
            pod.proc.kill()
        pod.proc.wait(5)
        pod.proc.stdout.close()


def _samples(pod: Pod, name: str) -> dict[tuple, float]:
    """Samples of one metric family from /metrics, keyed by sorted label pairs."""
    text = _get(pod.base + "/metrics")[1].decode()
    return {tuple(sorted(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples
            if s.name == name}


def test_work_endpoint_names_its_pod_and_counts_requests(start_pod) -> None:
    pod = start_pod()
    status, body = _get(pod.base + "/")
    assert status == 200
    assert json.loads(body) == {"ok": True, "pod": "web-1", "namespace": "demo",
                                "node": "node-b-0"}
    assert _get(pod.base + "/nope")[0] == 404
    counts = _samples(pod, "http_requests_total")
    assert counts[(("code", "200"), ("method", "GET"), ("path", "/"))] == 1
    assert counts[(("code", "404"), ("method", "GET"), ("path", "other"))] == 1
    assert not _samples(pod, "http_requests_created"), "created series are disabled"


def test_error_rate_one_fails_every_work_request_but_not_probes(start_pod) -> None:
    pod = start_pod(ERROR_RATE="1")
    assert [_get(pod.base + "/")[0] for _ in range(5)] == [500] * 5
    assert _get(pod.base + "/readyz")[0] == 200
    counts = _samples(pod, "http_requests_total")
    assert counts[(("code", "500"), ("method", "GET"), ("path", "/"))] == 5


def test_latency_lands_in_the_right_histogram_bucket(start_pod) -> None:
    pod = start_pod(LATENCY_MS="150", LATENCY_JITTER_MS="20")
    t0 = time.monotonic()
    assert _get(pod.base + "/")[0] == 200
    assert time.monotonic() - t0 >= 0.13
    buckets = _samples(pod, "http_request_duration_seconds_bucket")
    counts = [buckets[(("le", le), ("method", "GET"), ("path", "/"))]
              for le in ("0.1", "0.25", "5.0")]
    assert counts == [0, 1, 1]


def test_startup_delay_keeps_the_port_closed(start_pod) -> None:
    pod = start_pod(wait=False, STARTUP_DELAY_S="1.0")
    time.sleep(0.6)
    assert not _listening(pod)
    eventually(lambda: _listening(pod), 10, "listening after the startup delay", 0.02)
    assert time.monotonic() - pod.started >= 1.0


def test_sigterm_drains_not_ready_then_exits_zero(start_pod) -> None:
    pod = start_pod(LATENCY_MS="1200", DRAIN_S="1")
    in_flight: list[int] = []
    slow = threading.Thread(target=lambda: in_flight.append(_get(pod.base + "/")[0]))
    slow.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    pod.proc.send_signal(signal.SIGTERM)
    eventually(lambda: _get(pod.base + "/readyz")[0] == 503, 2, "/readyz 503 while draining", 0.02)
    assert _get(pod.base + "/healthz")[0] == 200, "new requests are still served while draining"
    assert pod.proc.wait(timeout=5) == 0
    slow.join(5)
    assert in_flight == [200], "the request in flight at SIGTERM completed"
    assert 1.0 <= time.monotonic() - t0 < 3.5


def test_sigterm_during_startup_delay_exits_at_once(start_pod) -> None:
    pod = start_pod(wait=False, STARTUP_DELAY_S="30")
    # before the handler is installed SIGTERM would just kill the interpreter: wait for it
    eventually(lambda: catches_sigterm(pod.proc.pid), 15, "the app's SIGTERM handler", 0.02)
    pod.proc.send_signal(signal.SIGTERM)
    assert pod.proc.wait(timeout=3) == 0


def test_args_override_env_and_pod_ip_is_the_bind_address() -> None:
    config = parse_config(["--port", "9000", "--error-rate", "0.5"],
                          {"PORT": "8000", "ERROR_RATE": "0.1", "DRAIN_S": "4",
                           "GAMEDAY_POD_IP": "127.20.0.7"})
    assert config == AppConfig(host="127.20.0.7", port=9000, error_rate=0.5, drain_s=4)


@pytest.mark.parametrize("env, argv, message", [
    ({"ERROR_RATE": "2"}, [], "ERROR_RATE must be between 0 and 1"),
    ({"LATENCY_MS": "slow"}, [], "LATENCY_MS='slow' is invalid"),
    ({}, ["--drain-s", "-1"], "DRAIN_S must be >= 0"),
])
def test_bad_knobs_exit_with_a_usage_message(env: dict, argv: list, message: str,
                                            capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_config(argv, env)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def _objects() -> dict[str, dict]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(MANIFESTS.read_text())}


def test_manifest_runs_this_app_with_valid_knobs() -> None:
    pod = _objects()["Deployment"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert program_for(container["image"])[-1] == "gameday.lab.images.sample_app"
    config = parse_config(container.get("args", []),
                          {e["name"]: e["value"] for e in container["env"]})
    annotations = pod["metadata"]["annotations"]
    assert config.port == container["ports"][0]["containerPort"] == int(
        annotations["prometheus.io/port"])
    assert config.drain_s < pod["spec"]["terminationGracePeriodSeconds"]


def test_drain_outlasts_the_load_balancer_noticing_not_ready() -> None:
    objs = _objects()
    service, backend_config = objs["Service"], objs["BackendConfig"]
    assert backend_config_name(service, 80, "http") == backend_config["metadata"]["name"]
    hc = apply_health_check(HealthCheckSettings.from_profile(get_profile("fast")),
                            backend_config, "gameday-demo/web")
    env = {e["name"]: e["value"] for e in
           objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    worst_detection_s = (hc.unhealthy_threshold + 1) * hc.interval_s
    assert hc.request_path == "/readyz"
    assert parse_config([], env).drain_s >= worst_detection_s
    ingress = objs["Ingress"]["spec"]["defaultBackend"]["service"]
    assert (ingress["name"], ingress["port"]["number"]) == (service["metadata"]["name"], 80)
