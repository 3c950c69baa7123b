"""Cluster objects (plain API dicts) -> the load balancer's configuration, like ingress-gce.

Input is what the watcher holds: Ingresses, Services, EndpointSlices (v1beta1 or v1: the fields
used here are the same), BackendConfigs and Pods. Output is an `LbConfig`: one URL map and one
backend service per referenced Service port, whose endpoints are NEG endpoints (pod IP and the
resolved target port, from the EndpointSlices; Endpoints objects are never read). Mistakes in
the cluster's objects never stop the load balancer: they become `problems`, shown by
/debug/backends, and the affected backend service simply has no endpoints (502), the way a GKE
Ingress with a missing Service serves errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from gameday.errors import UsageError
from gameday.lab.ingress.backendconfig import (
    apply_health_check,
    backend_config_name,
    backend_timeout,
)
from gameday.lab.ingress.healthcheck import HealthCheckSettings
from gameday.lab.ingress.urlmap import Route, UrlMap

INGRESS_CLASS = "gce"
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
DEFAULT_BACKEND_TIMEOUT_S = 30.0  # GCLB backend service timeout default


@dataclass(frozen=True)
class EndpointSpec:
    """A NEG endpoint: where traffic and health checks go."""

    ip: str
    port: int
    pod: str | None = None  # "namespace/name" of the targetRef

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class BackendServiceSpec:
    """One backend service: a Service port, its ready endpoints and health check."""

    name: str
    endpoints: tuple[EndpointSpec, ...]
    health_check: HealthCheckSettings
    timeout_s: float = DEFAULT_BACKEND_TIMEOUT_S


@dataclass(frozen=True)
class LbConfig:
    """Everything the proxy and the health checker need, rebuilt on every cluster change."""

    url_map: UrlMap = field(default_factory=UrlMap)
    backend_services: dict[str, BackendServiceSpec] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


@dataclass
class ClusterObjects:
    """The watched objects, as the API returns them (camelCase dicts)."""

    ingresses: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    endpoint_slices: list[dict[str, Any]] = field(default_factory=list)
    backend_configs: list[dict[str, Any]] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata", {})
    return meta.get("namespace", "default"), meta.get("name", "")


def backend_service_name(namespace: str, service: str, port: int | str) -> str:
    """`namespace/service:port`, the label value used in metrics and /debug/backends."""
    return f"{namespace}/{service}:{port}"


def is_served(ingress: dict[str, Any]) -> bool:
    """GKE's controller serves class `gce` and Ingresses that name no class at all."""
    spec_class = (ingress.get("spec") or {}).get("ingressClassName")
    annotated = (ingress.get("metadata", {}).get("annotations") or {}).get(CLASS_ANNOTATION)
    return all(c in (None, INGRESS_CLASS) for c in (spec_class, annotated))


class _Translator:
    """One translation pass; collects problems instead of raising."""

    def __init__(self, objs: ClusterObjects, defaults: HealthCheckSettings) -> None:
        self.defaults = defaults
        self.services = {_key(s): s for s in objs.services}
        self.backend_configs = {_key(b): b for b in objs.backend_configs}
        self.pods = {"/".join(_key(p)): p for p in objs.pods}
        self.slices: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for sl in objs.endpoint_slices:
            svc = (sl.get("metadata", {}).get("labels") or {}).get(SERVICE_NAME_LABEL)
            if svc:
                self.slices.setdefault((_key(sl)[0], svc), []).append(sl)
        self.backend_services: dict[str, BackendServiceSpec] = {}
        self.problems: list[str] = []

    def backend(self, namespace: str, ref: dict[str, Any], origin: str) -> str | None:
        """Resolve an IngressBackend to a backend service name, building it on first use."""
        svc_ref = ref.get("service")
        if not svc_ref:
            self.problems.append(f"Ingress {origin}: only service backends are supported")
            return None
        name, port_ref = svc_ref.get("name", ""), svc_ref.get("port") or {}
        wanted = port_ref.get("number", port_ref.get("name"))
        service = self.services.get((namespace, name))
        svc_port = None
        if service is None:
            self.problems.append(f"Ingress {origin}: Service {namespace}/{name} not found")
        else:
            svc_port = next((p for p in service.get("spec", {}).get("ports", [])
                             if wanted in (p.get("port"), p.get("name"))), None)
            if svc_port is None:
                self.problems.append(
                    f"Ingress {origin}: Service {namespace}/{name} has no port {wanted!r}")
        bs_name = backend_service_name(namespace, name, svc_port["port"] if svc_port else wanted)
        if bs_name not in self.backend_services:
            self.backend_services[bs_name] = self._build(bs_name, namespace, service, svc_port)
        return bs_name

    def _build(self, bs_name: str, namespace: str, service: dict[str, Any] | None,
               svc_port: dict[str, Any] | None) -> BackendServiceSpec:
        if service is None or svc_port is None:
            return BackendServiceSpec(bs_name, (), self.defaults)
        endpoints = self._endpoints(namespace, service["metadata"]["name"], svc_port)
        settings, timeout_s = self.defaults, DEFAULT_BACKEND_TIMEOUT_S
        probe = self._probe_path(endpoints)
        if probe is not None:
            settings = replace(settings, request_path=probe[0],
                               source=f"readinessProbe of pod {probe[1]}")
        try:
            bc_name = backend_config_name(service, svc_port["port"], svc_port.get("name", ""))
            if bc_name is not None:
                bc = self.backend_configs.get((namespace, bc_name))
                if bc is None:
                    raise UsageError(f"BackendConfig {namespace}/{bc_name} not found")
                settings = apply_health_check(settings, bc, f"{namespace}/{bc_name}")
                timeout_s = backend_timeout(bc, timeout_s)
        except UsageError as exc:
            self.problems.append(f"backend service {bs_name}: {exc}")
        return BackendServiceSpec(bs_name, endpoints, settings, timeout_s)

    def _endpoints(self, namespace: str, service: str,
                   svc_port: dict[str, Any]) -> tuple[EndpointSpec, ...]:
        port_name = svc_port.get("name") or ""
        found: dict[str, EndpointSpec] = {}
        for sl in self.slices.get((namespace, service), []):
            port = next((p.get("port") for p in sl.get("ports") or []
                         if (p.get("name") or "") == port_name), None)
            if port is None:
                continue
            for ep in sl.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready") is False:
                    continue  # NEG detach: not-ready endpoints leave the pool at once
                ref = ep.get("targetRef") or {}
                pod = (f"{ref.get('namespace', namespace)}/{ref['name']}"
                       if ref.get("kind") == "Pod" and ref.get("name") else None)
                for ip in ep.get("addresses") or []:
                    spec = EndpointSpec(ip, int(port), pod)
                    found.setdefault(spec.address, spec)
        return tuple(sorted(found.values(), key=lambda e: e.address))

    def _probe_path(self, endpoints: tuple[EndpointSpec, ...]) -> tuple[str, str] | None:
        """(path, pod) of the first pod whose readiness probe is an httpGet on the served port."""
        for ep in endpoints:
            pod = self.pods.get(ep.pod or "")
            for container in (pod or {}).get("spec", {}).get("containers", []):
                http_get = (container.get("readinessProbe") or {}).get("httpGet")
                if http_get and _same_port(http_get.get("port"), container, ep.port):
                    path = http_get.get("path") or "/"
                    return (path if path.startswith("/") else "/" + path), ep.pod or ""
        return None


def _same_port(probe_port: int | str | None, container: dict[str, Any], port: int) -> bool:
    if isinstance(probe_port, int):
        return probe_port == port
    return any(p.get("name") == probe_port and p.get("containerPort") == port
               for p in container.get("ports") or [])


def translate(objs: ClusterObjects, defaults: HealthCheckSettings) -> LbConfig:
    """Build the load balancer's configuration from the cluster's objects."""
    tr = _Translator(objs, defaults)
    ingresses = sorted((i for i in objs.ingresses if is_served(i)), key=lambda i: (
        i.get("metadata", {}).get("creationTimestamp") or "", _key(i)))
    routes: list[Route] = []
    default_backend: str | None = None
    default_origin = ""
    for ing in ingresses:
        namespace, name = _key(ing)
        origin = f"{namespace}/{name}"
        spec = ing.get("spec") or {}
        if spec.get("defaultBackend") and default_backend is None:
            default_backend = tr.backend(namespace, spec["defaultBackend"], origin)
            default_origin = origin
        for rule in spec.get("rules") or []:
            for p in (rule.get("http") or {}).get("paths") or []:
                backend = tr.backend(namespace, p.get("backend") or {}, origin)
                if backend is None:
                    continue
                try:
                    routes.append(Route(host=(rule.get("host") or "").lower(),
                                        path=p.get("path") or "/",
                                        path_type=p.get("pathType") or "ImplementationSpecific",
                                        backend=backend, origin=origin))
                except UsageError as exc:
                    tr.problems.append(str(exc))
    return LbConfig(UrlMap(tuple(routes), default_backend, default_origin), tr.backend_services,
                    tuple(tr.problems))
