"""The lab's Prometheus config and command line, checked by promtool and by a real Prometheus
scraping a real sample app (file_sd and http_sd) and the exporter served from fixed data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.errors import UsageError
from gameday.lab import pki
from gameday.lab.kubestate.testing import (
    deployment_obj,
    fixed_store,
    node_obj,
    pod_obj,
    serve_store,
)
from gameday.lab.procs import tail, terminate
from gameday.lab.profiles import get_profile
from gameday.lab.prometheus import (
    READY_PATH,
    PrometheusTargets,
    duration,
    file_sd_dir,
    prometheus_command,
    render_config,
    write_config,
)
from gameday.lab.waits import free_port, http_ok
from tests.helpers import eventually

PROMETHEUS = Path("/usr/bin/prometheus")
PROMTOOL = Path("/usr/bin/promtool")
needs_prometheus = pytest.mark.skipif(not PROMETHEUS.exists() or not PROMTOOL.exists(),
                                      reason="Debian's prometheus package is not installed")


def _targets(tmp_path: Path, kubestate: str = "127.0.0.1:9") -> PrometheusTargets:
    """The lab's own CA and Prometheus token; every address but the exporter's is down."""
    keys = pki.generate(tmp_path / "pki")
    return PrometheusTargets(apiserver=f"127.0.0.1:{free_port()}", ca_file=keys.ca_cert,
                             token_file=keys.token_file("prometheus"),
                             labd=f"127.0.0.1:{free_port()}",
                             ingress_admin=f"127.0.0.1:{free_port()}", kubestate=kubestate)


@pytest.mark.parametrize("profile, interval, timeout", [("fast", "1s", "1s"),
                                                        ("gke", "15s", "10s")])
def test_intervals_follow_the_profile(profile: str, interval: str, timeout: str,
                                      tmp_path: Path) -> None:
    config = render_config(get_profile(profile), _targets(tmp_path), tmp_path)
    assert config["global"] == {"scrape_interval": interval, "evaluation_interval": interval,
                                "scrape_timeout": timeout}
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert list(jobs) == ["kube-apiserver", "gameday-labd", "gameday-ingress",
                          "kube-state-metrics", "pods", "gameday-extra"]
    assert jobs["pods"]["http_sd_configs"] == [{"url": "http://127.0.0.1:9/sd/pods",
                                                "refresh_interval": interval}]
    api = jobs["kube-apiserver"]
    assert api["scheme"] == "https" and api["authorization"]["type"] == "Bearer"
    assert Path(api["authorization"]["credentials_file"]).name == "prometheus.token"
    assert api["tls_config"] == {"ca_file": str(tmp_path / "pki" / "ca.crt")}
    assert jobs["gameday-extra"]["file_sd_configs"][0]["files"] == [
        str(tmp_path / "targets" / "*.json")]


@needs_prometheus
def test_promtool_accepts_the_written_config(tmp_path: Path) -> None:
    path = write_config(get_profile("fast"), _targets(tmp_path), tmp_path)
    assert file_sd_dir(tmp_path).is_dir()
    done = subprocess.run([str(PROMTOOL), "check", "config", str(path)], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr


def test_command_line(tmp_path: Path) -> None:
    argv = prometheus_command(PROMETHEUS, tmp_path, "127.0.0.1:9090", tmp_path / "p.yml")
    assert argv[0] == str(PROMETHEUS)
    assert {"--web.listen-address=127.0.0.1:9090", "--web.enable-lifecycle",
            f"--storage.tsdb.path={tmp_path / 'data'}", f"--config.file={tmp_path / 'p.yml'}",
            "--storage.tsdb.retention.time=1d"} <= set(argv)


def test_non_loopback_addresses_and_bad_intervals_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"127\.x\.y\.z:PORT"):
        prometheus_command(PROMETHEUS, tmp_path, "0.0.0.0:9090", tmp_path / "p.yml")
    with pytest.raises(UsageError, match=r"kubestate='localhost:1'"):
        _targets(tmp_path, kubestate="localhost:1")
    with pytest.raises(UsageError, match="positive"):
        duration(0)
    assert (duration(15), duration(0.5)) == ("15s", "500ms")


@pytest.fixture
def sample_app(tmp_path: Path) -> Iterator[str]:
    """A real sample-app process on its own 127.x address; yields host:port."""
    host, port = "127.0.77.5", free_port()
    env = {"PATH": os.environ.get("PATH", ""), "GAMEDAY_POD_IP": host, "PORT": str(port),
           "GAMEDAY_POD_NAME": "web-1", "DRAIN_S": "0"}
    with open(tmp_path / "app.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "gameday.lab.images.sample_app"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        eventually(lambda: http_ok(f"http://{host}:{port}/readyz"), 10, "sample app ready", 0.05)
        yield f"{host}:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def _query(base: str, promql: str) -> list[dict]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = json.loads(resp.read())
    assert body["status"] == "success", body
    return body["data"]["result"]


@needs_prometheus
def test_real_prometheus_scrapes_the_app_and_the_exporter(tmp_path: Path,
                                                          sample_app: str) -> None:
    pod_ip, port = sample_app.split(":")
    pod = pod_obj("web-1", "gke-b-0", pod_ip, annotations={
        "prometheus.io/scrape": "true", "prometheus.io/port": port})
    store = fixed_store([node_obj("gke-b-0", "europe-west1-b")], [pod],
                        [deployment_obj("web", 6, 5)])
    prom_dir = tmp_path / "prometheus"
    with serve_store(store) as exporter_url:
        config = write_config(get_profile("fast"),
                              _targets(tmp_path, exporter_url.removeprefix("http://")), prom_dir)
        (file_sd_dir(prom_dir) / "app.json").write_text(json.dumps(
            [{"targets": [sample_app], "labels": {"source": "file_sd"}}]))
        listen = f"127.0.0.1:{free_port()}"
        base = f"http://{listen}"
        log_path = tmp_path / "prometheus.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(prometheus_command(PROMETHEUS, prom_dir, listen, config),
                                    stdout=log, stderr=subprocess.STDOUT)
        try:
            eventually(lambda: proc.poll() is not None or http_ok(base + READY_PATH), 15,
                       "Prometheus ready", 0.1)
            assert proc.poll() is None, tail(log_path)

            def jobs(promql: str) -> set[str]:
                return {r["metric"]["job"] for r in _query(base, promql)}

            eventually(lambda: jobs("http_requests_total") == {"pods", "gameday-extra"}, 15,
                       "http_requests_total via http_sd (pods) and file_sd (gameday-extra)",
                       0.25)
            eventually(lambda: jobs("up") >= {"kube-apiserver", "gameday-labd",
                                              "kube-state-metrics"}, 10,
                       "every static job scraped once", 0.25)
            (from_pods,) = _query(base, 'sum by (namespace, pod, zone, app) '
                                        '(http_requests_total{job="pods"})')
            assert from_pods["metric"] == {"namespace": "gameday-demo", "pod": "web-1",
                                           "zone": "europe-west1-b", "app": "web"}
            (ready,) = _query(base, 'kube_deployment_status_replicas_available'
                                    '{namespace="gameday-demo", deployment="web"}')
            assert ready["value"][1] == "5"
            assert ready["metric"]["job"] == "kube-state-metrics"
            up = {r["metric"]["job"]: r["value"][1] for r in _query(base, "up")}
            assert up["kube-apiserver"] == up["gameday-labd"] == "0"
            assert up["kube-state-metrics"] == "1"
        finally:
            terminate(proc)
