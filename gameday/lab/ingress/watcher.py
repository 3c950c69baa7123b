"""Feeds the load balancer from the cluster: watched objects -> `translate` -> `LoadBalancer.apply`.

Five resources are watched in all namespaces: Ingresses (networking.k8s.io/v1), Services,
EndpointSlices (discovery.k8s.io v1 when served, else v1beta1, as on Kubernetes 1.20), Pods (for
readiness-probe paths) and BackendConfigs (cloud.google.com/v1; optional, the CRD may be
installed later). Changes are coalesced: one rebuild at most every `DEBOUNCE_S`, and only after
every resource has been listed once, so the first configuration is complete, never partial.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from functools import partial
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gameday.errors import LabError
from gameday.lab.ingress.healthcheck import HealthCheckSettings
from gameday.lab.ingress.lb import LoadBalancer
from gameday.lab.ingress.translate import ClusterObjects, translate
from gameday.lab.kubewatch import CONNECT_TIMEOUT_S, LIST_TIMEOUT_S, Reflector

log = logging.getLogger(__name__)
DEBOUNCE_S = 0.05


def _pod_view(pod: dict[str, Any]) -> dict[str, Any]:
    """The part of a Pod the translation reads: status churn then causes no rebuild."""
    containers = [{"readinessProbe": c.get("readinessProbe"), "ports": c.get("ports")}
                  for c in pod.get("spec", {}).get("containers", [])]
    meta = pod.get("metadata", {})
    return {"metadata": {"namespace": meta.get("namespace"), "name": meta.get("name")},
            "spec": {"containers": containers}}


def _same(obj: dict[str, Any]) -> dict[str, Any]:
    return obj


@dataclass(frozen=True)
class Resource:
    """A watched resource: which ClusterObjects field it fills and how to reduce its objects."""

    field: str
    view: Any = _same
    optional: bool = False


RESOURCES = {
    "ingresses": Resource("ingresses"),
    "services": Resource("services"),
    "endpointslices": Resource("endpoint_slices"),
    "pods": Resource("pods", view=_pod_view),
    "backendconfigs": Resource("backend_configs", optional=True),
}


def endpoint_slice_version(api: client.ApiClient) -> str:
    """`v1` where served (Kubernetes >= 1.21), else `v1beta1` (1.20)."""
    try:
        groups = client.ApisApi(api).get_api_versions(
            _request_timeout=(CONNECT_TIMEOUT_S, LIST_TIMEOUT_S))
    except (ApiException, urllib3.exceptions.HTTPError) as exc:
        raise LabError(f"cannot list API groups from {api.configuration.host}: {exc}; "
                       "is the lab's apiserver running (`gameday lab status`)?") from exc
    for group in groups.groups:
        if group.name == "discovery.k8s.io":
            served = {v.version for v in group.versions}
            for version in ("v1", "v1beta1"):
                if version in served:
                    return version
    raise LabError("the apiserver serves no discovery.k8s.io EndpointSlice API (v1 or v1beta1); "
                   "the ingress load balancer needs Kubernetes >= 1.17")


class ClusterCache:
    """Objects by resource and uid, living on the event loop; triggers debounced rebuilds."""

    def __init__(self, lb: LoadBalancer, defaults: HealthCheckSettings) -> None:
        self.lb = lb
        self.defaults = defaults
        self.objects: dict[str, dict[str, dict[str, Any]]] = {r: {} for r in RESOURCES}
        self.listed: set[str] = set()
        self._pending: asyncio.TimerHandle | None = None
        self._problems: tuple[str, ...] = ()

    def on_event(self, resource: str, event_type: str, payload: Any) -> None:
        """Reflector sink; runs on the loop thread."""
        view = RESOURCES[resource].view
        store = self.objects[resource]
        if event_type == "SYNC":
            fresh = {o["metadata"]["uid"]: view(o) for o in payload}
            changed = fresh != store or resource not in self.listed
            self.objects[resource] = fresh
            self.listed.add(resource)
        elif event_type == "DELETED":
            changed = store.pop(payload["metadata"]["uid"], None) is not None
        else:
            obj = view(payload)
            uid = payload["metadata"]["uid"]
            changed = store.get(uid) != obj
            store[uid] = obj
        if changed and self.listed == RESOURCES.keys() and self._pending is None:
            self._pending = asyncio.get_running_loop().call_later(DEBOUNCE_S, self.rebuild)

    def rebuild(self) -> None:
        self._pending = None
        objs = ClusterObjects(**{RESOURCES[r].field: list(store.values())
                                 for r, store in self.objects.items()})
        config = translate(objs, self.defaults)
        for problem in set(config.problems) - set(self._problems):  # say each one once
            log.warning("ingress configuration: %s", problem)
        self._problems = config.problems
        self.lb.apply(config)


class Watcher:
    """Starts one reflector per resource against a cluster."""

    def __init__(self, api: client.ApiClient, cache: ClusterCache) -> None:
        self.api = api
        self.cache = cache
        self.stop_event = threading.Event()
        self.threads: list[Reflector] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        core, custom = client.CoreV1Api(self.api), client.CustomObjectsApi(self.api)
        slices = endpoint_slice_version(self.api)
        list_fns = {
            "ingresses": partial(custom.list_cluster_custom_object,
                                 "networking.k8s.io", "v1", "ingresses"),
            "services": core.list_service_for_all_namespaces,
            "endpointslices": partial(custom.list_cluster_custom_object,
                                      "discovery.k8s.io", slices, "endpointslices"),
            "pods": core.list_pod_for_all_namespaces,
            "backendconfigs": partial(custom.list_cluster_custom_object,
                                      "cloud.google.com", "v1", "backendconfigs"),
        }
        for name, fn in list_fns.items():
            reflector = Reflector(name, fn, loop, partial(self.cache.on_event, name),
                                  self.stop_event, optional=RESOURCES[name].optional)
            reflector.start()
            self.threads.append(reflector)
        log.info("watching the cluster (EndpointSlice %s)", slices)

    def stop(self) -> None:
        """Ask the threads to end; they are daemons blocked at most one watch round."""
        self.stop_event.set()
