"""Kubernetes Events about a pod, written as the kubelet writes them (`kubectl describe` shows
them): the place a user looks to learn why a pod waits (FailedMount) or cannot start (Failed).

Events are best effort, as in Kubernetes: a failure to write one is never the pod's failure.
"""

from __future__ import annotations

import contextlib
import uuid

import aiohttp

from gameday.lab.hollow.kuberest import KubeApiError, KubeRest
from gameday.lab.hollow.timefmt import now_iso


async def pod_event(kube: KubeRest, pod: dict, node: str, kind: str, reason: str,
                    message: str) -> None:
    """Post one core/v1 Event on the pod; kind is "Normal" or "Warning"."""
    meta = pod["metadata"]
    now = now_iso()
    body = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}",
                     "namespace": meta["namespace"]},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": meta["name"],
                           "namespace": meta["namespace"], "uid": meta["uid"]},
        "type": kind, "reason": reason, "message": message, "count": 1,
        "firstTimestamp": now, "lastTimestamp": now,
        "source": {"component": "kubelet", "host": node},
        "reportingComponent": "kubelet", "reportingInstance": node,
    }
    with contextlib.suppress(KubeApiError, aiohttp.ClientError, TimeoutError):
        await kube.post(f"/api/v1/namespaces/{meta['namespace']}/events", body)
