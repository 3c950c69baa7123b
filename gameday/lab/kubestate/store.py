"""The exporter's cluster cache: objects by resource and uid, and renderings cached per version.

Reflector threads post list/watch events onto the event loop, where `on_event` applies them, so the
store needs no lock. Every change bumps `version`; the /metrics text and the /sd/pods document are
rendered at most once per version, so a 1 s scrape interval over 1,000 quiet pods costs nothing.
"""

from __future__ import annotations

import json
from typing import Any

from gameday.lab.kubestate.exposition import render
from gameday.lab.kubestate.metrics import cluster_families
from gameday.lab.kubestate.sd import pod_targets

Obj = dict[str, Any]
RESOURCES = ("nodes", "pods", "deployments")


def _sort_key(obj: Obj) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


class ClusterStore:
    """Nodes, pods and deployments as the watch delivered them (API JSON dicts)."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Obj]] = {r: {} for r in RESOURCES}
        self.listed: set[str] = set()
        self.version = 0
        self._metrics: tuple[int, bytes] = (-1, b"")
        self._targets: tuple[int, bytes] = (-1, b"")

    @property
    def synced(self) -> bool:
        """True once every resource was listed: before that, series would claim pods are gone."""
        return self.listed.issuperset(RESOURCES)

    def on_event(self, resource: str, event_type: str, payload: Any) -> None:
        """Reflector sink: "SYNC" carries the full list, ADDED/MODIFIED/DELETED one object."""
        store = self.objects[resource]
        if event_type == "SYNC":
            self.objects[resource] = {o["metadata"]["uid"]: o for o in payload}
            self.listed.add(resource)
        elif event_type == "DELETED":
            store.pop(payload["metadata"]["uid"], None)
        else:
            store[payload["metadata"]["uid"]] = payload
        self.version += 1

    def sorted(self, resource: str) -> list[Obj]:
        return sorted(self.objects[resource].values(), key=_sort_key)

    def metrics_text(self) -> bytes:
        """The kube-state-metrics style exposition of the current state."""
        if self._metrics[0] != self.version:
            text = render(cluster_families(self.sorted("nodes"), self.sorted("pods"),
                                           self.sorted("deployments")))
            self._metrics = (self.version, text.encode())
        return self._metrics[1]

    def pod_targets_json(self) -> bytes:
        """The http_sd document for annotated pods."""
        if self._targets[0] != self.version:
            doc = pod_targets(self.objects["pods"].values(), self.objects["nodes"].values())
            self._targets = (self.version, json.dumps(doc).encode())
        return self._targets[1]
