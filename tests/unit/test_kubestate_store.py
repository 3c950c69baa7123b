"""The exporter's watch cache and its HTTP side on loopback, fed the events a reflector posts."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gameday.lab.kubestate.store import ClusterStore
from gameday.lab.kubestate.testing import (
    deployment_obj,
    fixed_store,
    node_obj,
    pod_obj,
    serve_store,
)


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def _ready_pods(text: str) -> set[str]:
    return {s.labels["pod"] for fam in text_string_to_metric_families(text) for s in fam.samples
            if s.name == "kube_pod_status_ready" and s.labels["condition"] == "true"
            and s.value == 1}


def test_events_update_the_cache_and_rendering_is_cached_per_version() -> None:
    store = fixed_store([node_obj("n1", "z1")], [pod_obj("web-1", "n1", "127.20.0.2")], [])
    first = store.metrics_text()
    assert store.metrics_text() is first, "no change, no re-render"
    store.on_event("pods", "ADDED", pod_obj("web-2", "n1", "127.20.0.3"))
    assert _ready_pods(store.metrics_text().decode()) == {"web-1", "web-2"}
    store.on_event("pods", "MODIFIED", pod_obj("web-2", "n1", "127.20.0.3", ready="False"))
    assert _ready_pods(store.metrics_text().decode()) == {"web-1"}
    store.on_event("pods", "DELETED", pod_obj("web-1", "n1", "127.20.0.2"))
    assert _ready_pods(store.metrics_text().decode()) == set()
    assert [t["labels"]["pod"] for t in json.loads(store.pod_targets_json())] == ["web-2"]
    store.on_event("pods", "SYNC", [])  # a re-list after 410 replaces everything
    assert json.loads(store.pod_targets_json()) == []


def test_nothing_is_served_until_every_resource_was_listed() -> None:
    store = ClusterStore()
    store.on_event("nodes", "SYNC", [node_obj("n1", "z1")])
    store.on_event("pods", "SYNC", [pod_obj("web-1", "n1", "127.20.0.2")])
    with serve_store(store) as url:
        for path in ("/metrics", "/sd/pods", "/readyz"):
            status, _, body = _get(url + path)
            assert status == 503 and "not synced" in body
        assert _get(url + "/healthz")[0] == 200


def test_served_metrics_and_targets_parse() -> None:
    store = fixed_store([node_obj("n1", "z1")], [pod_obj("web-1", "n1", "127.20.0.2")],
                        [deployment_obj("web", 1, 1)])
    with serve_store(store) as url:
        status, content_type, text = _get(url + "/metrics")
        assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
        assert _ready_pods(text) == {"web-1"}
        status, content_type, body = _get(url + "/sd/pods")
        assert (status, content_type) == (200, "application/json")
        assert json.loads(body)[0]["targets"] == ["127.20.0.2:8080"]
        assert _get(url + "/readyz")[0] == 200


def test_a_thousand_pods_render_well_within_a_scrape_interval() -> None:
    nodes = [node_obj(f"n{i}", f"z{i % 3}") for i in range(100)]
    pods = [pod_obj(f"web-{i}", f"n{i % 100}", f"127.20.{i // 250}.{i % 250 + 2}")
            for i in range(1000)]
    store = fixed_store(nodes, pods, [deployment_obj("web", 1000, 1000)])
    t0 = time.perf_counter()
    text = store.metrics_text().decode()
    targets = json.loads(store.pod_targets_json())
    elapsed = time.perf_counter() - t0
    assert len(_ready_pods(text)) == 1000 and len(targets) == 1000
    assert elapsed < 0.5, f"rendering 1,000 pods took {elapsed:.3f}s"


@pytest.mark.parametrize("args, message", [
    (["--kubeconfig", "/nonexistent", "--listen", "0.0.0.0:9"], "must be 127.x.y.z:PORT"),
    (["--kubeconfig", "/nonexistent", "--listen", "127.0.0.1:9"], "cannot load kubeconfig"),
])
def test_cli_refuses_with_an_actionable_message(args: list[str], message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "gameday.lab.kubestate", *args],
                          capture_output=True, text=True, timeout=30, cwd=Path.cwd())
    assert done.returncode == 1
    assert message in done.stderr
