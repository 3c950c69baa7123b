"""Ready pods per zone over a test's span, from Prometheus: the chart that shows a zone going dark.

Fetched at the end of each test, while its Prometheus is surely up (a lab started by the run is
stopped before the session ends), and kept in the test's record. kube-state-metrics has no zone
on pod series, so the query joins `kube_pod_status_ready` to the pod's node (`kube_pod_info`)
and the node's zone label (`kube_node_labels`). Any Prometheus failure becomes the `error` the
chart prints instead of a line: a missing chart must never stop the report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from gameday.adapters.prometheus import PromClient
from gameday.errors import SloError
from gameday.reports.model import ZoneReadiness

ZONE_LABEL = "label_topology_kubernetes_io_zone"
MAX_POINTS = 300  # a step that keeps the chart light whatever the test's length
PAD_S = 5.0  # seconds shown around the test, so a drop at its very start is visible


def ready_pods_query(namespace: str | None = None) -> str:
    """PromQL: ready pods summed by zone (all namespaces, or only `namespace`)."""
    ns = f',namespace="{namespace}"' if namespace else ""
    return (
        f'sum by (zone) (kube_pod_status_ready{{condition="true"{ns}}}'
        f' * on (namespace, pod) group_left(node) max by (namespace, pod, node) '
        f'(kube_pod_info{{node!=""{ns}}})'
        f' * on (node) group_left(zone) max by (node, zone) (label_replace(kube_node_labels, '
        f'"zone", "$1", "{ZONE_LABEL}", "(.+)")))'
    )


def fetch_ready_pods(url: str, headers: Mapping[str, str], start: dt.datetime,
                     end: dt.datetime, namespace: str | None = None,
                     timeout_s: float = 5.0) -> ZoneReadiness:
    """Ready pods per zone from `start` to `end` (padded); zones without any ready pod at a
    step count 0 there (their pods were deleted or not ready), so an outage shows as a drop."""
    query = ready_pods_query(namespace)
    s, e = start.timestamp() - PAD_S, end.timestamp() + PAD_S
    step = max(1.0, (e - s) / MAX_POINTS)
    try:
        with PromClient(url, headers=headers, timeout_s=timeout_s, connect_timeout_s=2.0,
                        retries=0) as prom:
            series = prom.query_range(query, s, e, step)
    except SloError as exc:
        return ZoneReadiness(query, error=f"Prometheus could not be asked: {exc}")
    by_zone = {str(x.labels.get("zone", "(no zone label)")): dict(x.points) for x in series}
    if not by_zone:
        return ZoneReadiness(query, error="Prometheus has no ready-pod series for this span "
                                          "(is kube-state-metrics scraped?)")
    stamps = sorted({ts for points in by_zone.values() for ts in points})
    return ZoneReadiness(query, {zone: [(ts, points.get(ts, 0.0)) for ts in stamps]
                                 for zone, points in sorted(by_zone.items())})
