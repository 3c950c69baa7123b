"""GCLB's Cloud Monitoring metrics, as Managed Prometheus shows them, from the lab's balancer.

Why: on GKE the load balancer's view of an Ingress is not scraped from the cluster; it is
Cloud Monitoring's `loadbalancing.googleapis.com/https/request_count` (a count) and
`.../https/total_latencies` (a distribution in ms), which GMP's PromQL names
`loadbalancing_googleapis_com:https_request_count` and
`loadbalancing_googleapis_com:https_total_latencies_bucket/_count/_sum`, labelled with the
`https_lb_rule` resource (`project_id` (added at scrape), `url_map_name`,
`forwarding_rule_name`, `target_proxy_name`, `backend_target_name`, ...), the metric's
`response_code` and `response_code_class` (the class as a number: "200", "500"), and
`monitored_resource="https_lb_rule"`. The lab exports the same names and labels, so an SLO
written `from_gclb` runs unchanged on both.

Names follow ingress-gce's v2 naming (`k8s2-um-<cluster uid>-<namespace>-<ingress>-<hash>`;
NEG backend services `k8s1-<cluster uid>-<namespace>-<service>-<port>-<hash>`); the hashes are
the lab's own (sha256), not byte-identical to ingress-gce's, and the lab has one cluster uid.
What the lab does not model: GCLB's 60 s sampling and its up-to-210 s delay before the data is
visible (the lab's series are scraped like any other).
"""

from __future__ import annotations

import hashlib
import threading
from collections import defaultdict
from collections.abc import Iterator

from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

REQUESTS = "loadbalancing_googleapis_com:https_request_count"
LATENCIES = "loadbalancing_googleapis_com:https_total_latencies"
# ms; must hold every latency SLO threshold a scenario may use (5 ms .. 10 s) and the 30 s
# backend timeout
LATENCY_BUCKETS_MS = (1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0,
                      5000.0, 10000.0, 30000.0)
CLUSTER_UID = hashlib.sha256(b"gameday-lab kube-system").hexdigest()[:8]
RESOURCE = {"monitored_resource": "https_lb_rule", "backend_target_type": "BACKEND_SERVICE",
            "backend_type": "NETWORK_ENDPOINT_GROUP", "region": "global"}


def _hash(*parts: str) -> str:
    return hashlib.sha256(";".join((CLUSTER_UID, *parts)).encode()).hexdigest()[:8]


def frontend_names(ingress: str) -> dict[str, str]:
    """url_map_name, forwarding_rule_name, target_proxy_name of "namespace/name"."""
    namespace, _, name = ingress.partition("/")
    lb = f"{CLUSTER_UID}-{namespace}-{name}-{_hash(namespace, name)}"
    return {"url_map_name": f"k8s2-um-{lb}", "forwarding_rule_name": f"k8s2-fr-{lb}",
            "target_proxy_name": f"k8s2-tp-{lb}"}


def backend_target_name(backend_service: str) -> str:
    """The NEG backend service name of the lab's "namespace/service:port"."""
    namespace, _, rest = backend_service.partition("/")
    service, _, port = rest.rpartition(":")
    return (f"k8s1-{CLUSTER_UID}-{namespace}-{service}-{port}-"
            f"{_hash(namespace, service, port)}")


Key = tuple[tuple[str, str], ...]


class GclbMetrics(Collector):
    """Request counts and total latencies per URL map, backend service and response code."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[Key, float] = defaultdict(float)
        self._latencies: dict[Key, list[float]] = {}  # per-bucket counts, then the sum

    def observe(self, ingress: str, backend_service: str, code: int, seconds: float) -> None:
        """One answered request of the URL map of `ingress` ("" when no Ingress matched:
        GCLB would not have had that URL map, so nothing is counted)."""
        if not ingress:
            return
        labels = {**RESOURCE, **frontend_names(ingress),
                  "backend_target_name": backend_target_name(backend_service)
                  if backend_service else "", "response_code": str(code),
                  "response_code_class": str(code // 100 * 100)}
        key = tuple(sorted(labels.items()))
        ms = seconds * 1000.0
        with self._lock:
            self._requests[key] += 1
            counts = self._latencies.setdefault(key, [0.0] * (len(LATENCY_BUCKETS_MS) + 2))
            for i, bound in enumerate(LATENCY_BUCKETS_MS):
                if ms <= bound:
                    counts[i] += 1
            counts[-2] += 1  # +Inf
            counts[-1] += ms

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            requests = dict(self._requests)
            latencies = {k: list(v) for k, v in self._latencies.items()}
        # a DELTA count in Cloud Monitoring, a counter-like series in PromQL; "unknown" type:
        # the text format would otherwise insist on a `_total` suffix GMP's name does not have
        count = Metric(REQUESTS, "Requests served by the HTTP(S) load balancer.", "unknown")
        for key, value in requests.items():
            count.add_sample(REQUESTS, dict(key), value)
        yield count
        hist = HistogramMetricFamily(
            LATENCIES, "Latency from the first request byte the proxy received to the last "
            "response byte it sent, in ms.", labels=[k for k, _ in next(iter(latencies))]
            if latencies else [])
        for key, counts in latencies.items():
            buckets = [(f"{b:g}", counts[i]) for i, b in enumerate(LATENCY_BUCKETS_MS)]
            hist.add_metric([v for _, v in key], [*buckets, ("+Inf", counts[-2])], counts[-1])
        yield hist
