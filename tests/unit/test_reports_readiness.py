"""Ready pods per zone: the join over kube-state-metrics series, on a real Prometheus scraping
the lab's exporter served from fixed data; and the error a chart shows without Prometheus."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import time
from pathlib import Path

import pytest

from gameday.lab.kubestate.testing import (
    deployment_obj,
    fixed_store,
    node_obj,
    pod_obj,
    serve_store,
)
from gameday.reports.readiness import fetch_ready_pods, ready_pods_query
from gameday.slo.testing import run_prometheus
from tests.helpers import eventually

needs_prometheus = pytest.mark.skipif(shutil.which("prometheus") is None,
                                      reason="Debian's prometheus package is not installed")


def test_query_filters_by_namespace_only_when_asked() -> None:
    assert 'namespace="shop"' in ready_pods_query("shop")
    assert "namespace=" not in ready_pods_query(None)
    assert "label_topology_kubernetes_io_zone" in ready_pods_query(None)


def test_unreachable_prometheus_is_an_error_not_an_exception() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    now = dt.datetime.now(dt.UTC)
    began = time.monotonic()
    zones = fetch_ready_pods(f"http://127.0.0.1:{port}", {}, now, now)
    assert time.monotonic() - began < 5
    assert zones.series == {}
    assert zones.error is not None and "Prometheus could not be asked" in zones.error


@needs_prometheus
def test_ready_pods_are_summed_per_zone(tmp_path: Path) -> None:
    nodes = [node_obj("gke-a-0", "zone-a"), node_obj("gke-b-0", "zone-b"),
             node_obj("gke-c-0", "zone-c")]
    pods = [pod_obj("web-1", "gke-a-0", "127.0.0.21"), pod_obj("web-2", "gke-a-0", "127.0.0.22"),
            pod_obj("web-3", "gke-b-0", "127.0.0.23"),
            pod_obj("web-4", "gke-c-0", "127.0.0.24", ready="False"),
            pod_obj("dns-1", "gke-c-0", "127.0.0.25", namespace="kube-system")]
    store = fixed_store(nodes, pods, [deployment_obj("web", 4, 3)])
    with serve_store(store) as exporter, \
            run_prometheus(tmp_path, [exporter.removeprefix("http://")],
                           job="kube-state-metrics") as prom:
        start = dt.datetime.now(dt.UTC)

        def sampled() -> dict[str, list[tuple[float, float]]]:
            zones = fetch_ready_pods(prom, {}, start, dt.datetime.now(dt.UTC),
                                     namespace="gameday-demo")
            return zones.series if zones.error is None else {}

        series = eventually(lambda: sampled() or None, 15, "ready-pod series", 0.3)
        assert {zone: points[-1][1] for zone, points in series.items()} == \
            {"zone-a": 2.0, "zone-b": 1.0, "zone-c": 0.0}
        everything = fetch_ready_pods(prom, {}, start, dt.datetime.now(dt.UTC))
        assert everything.series["zone-c"][-1][1] == 1.0  # kube-system's dns pod is ready
