"""kube-state-metrics series and http_sd targets rendered from API-shaped objects, parsed back."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from gameday.lab.kubestate.exposition import Family, render
from gameday.lab.kubestate.metrics import cluster_families, label_name, timestamp
from gameday.lab.kubestate.sd import pod_targets
from gameday.lab.kubestate.testing import deployment_obj, node_obj, pod_obj

NODES = [node_obj("gke-b-0", "europe-west1-b"),
         node_obj("gke-c-0", "europe-west1-c", ready="Unknown", unschedulable=True,
                  taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}])]
PODS = [pod_obj("web-1", "gke-b-0", "127.20.0.2", restarts=3),
        pod_obj("web-2", "gke-c-0", "127.20.0.3", ready="False"),
        pod_obj("job-1", "gke-b-0", None, phase="Pending", owner=None, annotations={})]
DEPLOYMENTS = [deployment_obj("web", 6, 4)]


def _parse(text: str) -> dict[str, dict[tuple, float]]:
    """family sample name -> {sorted label items: value}; raises if the text is malformed."""
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def _series() -> dict[str, dict[tuple, float]]:
    return _parse(render(cluster_families(NODES, PODS, DEPLOYMENTS)))


def _pick(series: dict[tuple, float], **labels: str) -> list[float]:
    return [v for k, v in series.items() if set(labels.items()) <= set(k)]


def test_node_conditions_are_one_series_per_status() -> None:
    cond = _series()["kube_node_status_condition"]
    assert _pick(cond, node="gke-b-0", condition="Ready", status="true") == [1]
    assert _pick(cond, node="gke-b-0", condition="Ready", status="false") == [0]
    assert _pick(cond, node="gke-c-0", condition="Ready", status="unknown") == [1]
    assert len(cond) == 6


def test_node_labels_are_sanitized_like_ksm() -> None:
    (key,) = [k for k in _series()["kube_node_labels"] if ("node", "gke-b-0") in k]
    labels = dict(key)
    assert labels["label_topology_kubernetes_io_zone"] == "europe-west1-b"
    assert labels["label_cloud_google_com_gke_nodepool"] == "default-pool"
    assert label_name("a.b/c-d") == "label_a_b_c_d"


def test_node_spec_and_info() -> None:
    series = _series()
    assert _pick(series["kube_node_spec_unschedulable"], node="gke-c-0") == [1]
    assert _pick(series["kube_node_spec_unschedulable"], node="gke-b-0") == [0]
    assert _pick(series["kube_node_spec_taint"], node="gke-c-0",
                 key="node.kubernetes.io/unreachable", effect="NoExecute", value="") == [1]
    assert _pick(series["kube_node_info"], node="gke-b-0", internal_ip="127.0.0.10",
                 provider_id="gce://lab/europe-west1-b/gke-b-0", kubelet_version="v1.20.2") == [1]
    assert _pick(series["kube_node_created"], node="gke-b-0") == [timestamp(
        "2024-05-01T10:00:00Z")] == [1714557600]


def test_pod_series_carry_ksm_labels() -> None:
    series = _series()
    assert _pick(series["kube_pod_info"], namespace="gameday-demo", pod="web-1", uid="uid-web-1",
                 node="gke-b-0", pod_ip="127.20.0.2", host_ip="127.0.0.10",
                 created_by_kind="ReplicaSet", created_by_name="web-5d9f") == [1]
    assert _pick(series["kube_pod_info"], pod="job-1", created_by_kind="<none>",
                 created_by_name="<none>", pod_ip="") == [1]
    ready = series["kube_pod_status_ready"]
    assert _pick(ready, pod="web-1", condition="true") == [1]
    assert _pick(ready, pod="web-2", condition="false") == [1]
    assert sum(_pick(ready, pod="web-2")) == 1
    phase = series["kube_pod_status_phase"]
    assert _pick(phase, pod="job-1", phase="Pending") == [1]
    assert sum(_pick(phase, pod="job-1")) == 1 and len(_pick(phase, pod="job-1")) == 5
    assert _pick(series["kube_pod_container_status_restarts_total"], pod="web-1",
                 container="web") == [3]


def test_deployment_replicas_including_omitted_zeroes() -> None:
    series = _series()
    web = {"namespace": "gameday-demo", "deployment": "web"}
    assert _pick(series["kube_deployment_spec_replicas"], **web) == [6]
    assert _pick(series["kube_deployment_status_replicas_available"], **web) == [4]
    assert _pick(series["kube_deployment_status_replicas_ready"], **web) == [4]
    assert _pick(series["kube_deployment_status_replicas_unavailable"], **web) == [2]
    fresh = _parse(render(cluster_families([], [], [{
        "metadata": {"name": "new", "namespace": "n", "uid": "u"}, "spec": {}, "status": {}}])))
    assert _pick(fresh["kube_deployment_spec_replicas"], deployment="new") == [1]
    assert _pick(fresh["kube_deployment_status_replicas_available"], deployment="new") == [0]


def test_exposition_escapes_label_values_and_types_counters() -> None:
    family = Family("x_total", "counter", "help")
    family.add({"v": 'a"b\\c\nd'}, 2.5)
    (parsed,) = text_string_to_metric_families(render([family]))
    assert parsed.type == "counter"
    assert parsed.samples[0].labels == {"v": 'a"b\\c\nd'} and parsed.samples[0].value == 2.5


def test_http_sd_lists_annotated_pods_with_plain_labels() -> None:
    annotated = pod_obj("web-3", "gke-b-0", "127.20.0.4", annotations={
        "prometheus.io/scrape": "true", "prometheus.io/port": "9102",
        "prometheus.io/path": "/custom"})
    done = pod_obj("web-4", "gke-b-0", "127.20.0.5", phase="Succeeded")
    targets = pod_targets([*PODS, annotated, done], NODES)
    assert targets == [
        {"targets": ["127.20.0.2:8080"],
         "labels": {"namespace": "gameday-demo", "pod": "web-1", "node": "gke-b-0",
                    "zone": "europe-west1-b", "app": "web", "__metrics_path__": "/metrics",
                    "__scheme__": "http"}},
        {"targets": ["127.20.0.3:8080"],
         "labels": {"namespace": "gameday-demo", "pod": "web-2", "node": "gke-c-0",
                    "zone": "europe-west1-c", "app": "web", "__metrics_path__": "/metrics",
                    "__scheme__": "http"}},
        {"targets": ["127.20.0.4:9102"],
         "labels": {"namespace": "gameday-demo", "pod": "web-3", "node": "gke-b-0",
                    "zone": "europe-west1-b", "app": "web", "__metrics_path__": "/custom",
                    "__scheme__": "http"}},
    ]
    assert not any(k.startswith("__meta_") for t in targets for k in t["labels"])
