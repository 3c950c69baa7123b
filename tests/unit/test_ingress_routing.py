"""Ingress/Service/EndpointSlice/BackendConfig dicts -> URL map and backend services."""

from __future__ import annotations

import json

import pytest

from gameday.lab.ingress.healthcheck import HealthCheckSettings
from gameday.lab.ingress.translate import ClusterObjects, EndpointSpec, translate
from gameday.lab.ingress.urlmap import Route, UrlMap

DEFAULTS = HealthCheckSettings(interval_s=1, timeout_s=1, healthy_threshold=1,
                               unhealthy_threshold=2, source="profile fast")


def meta(name: str, ns: str = "shop", **extra: object) -> dict:
    return {"name": name, "namespace": ns, "uid": f"{ns}-{name}", **extra}


def service(name: str, ports: list[dict], annotations: dict | None = None) -> dict:
    return {"metadata": meta(name, annotations=annotations or {}), "spec": {"ports": ports}}


def endpoint_slice(svc: str, port_name: str, port: int, endpoints: list[tuple[str, bool, str]],
                   suffix: str = "a") -> dict:
    return {
        "metadata": meta(f"{svc}-{suffix}", labels={"kubernetes.io/service-name": svc}),
        "addressType": "IPv4",
        "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": [ip], "conditions": {"ready": ready},
                       "targetRef": {"kind": "Pod", "namespace": "shop", "name": pod}}
                      for ip, ready, pod in endpoints],
    }


def pod(name: str, probe_port: int | str, path: str = "/ready") -> dict:
    return {"metadata": meta(name), "spec": {"containers": [{
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": path, "port": probe_port}}}]}}


def ingress(name: str, spec: dict, created: str = "2024-01-01T00:00:00Z", **annotations) -> dict:
    return {"metadata": meta(name, creationTimestamp=created, annotations=annotations),
            "spec": spec}


def rule(host: str, *paths: tuple[str, str, str, object]) -> dict:
    return {"host": host, "http": {"paths": [
        {"path": p, "pathType": t, "backend": {"service": {"name": s, "port": (
            {"number": port} if isinstance(port, int) else {"name": port})}}}
        for p, t, s, port in paths]}}


@pytest.fixture
def objs() -> ClusterObjects:
    return ClusterObjects(
        ingresses=[ingress("web", {
            "defaultBackend": {"service": {"name": "front", "port": {"number": 80}}},
            "rules": [rule("shop.example.com", ("/api", "Prefix", "api", "http"))],
        })],
        services=[
            service("front", [{"name": "http", "port": 80, "targetPort": "http"}]),
            service("api", [{"name": "http", "port": 8000, "targetPort": 8080}]),
        ],
        endpoint_slices=[
            endpoint_slice("front", "http", 8080, [("127.20.1.2", True, "front-1"),
                                                   ("127.20.2.2", False, "front-2")]),
            endpoint_slice("front", "http", 8080, [("127.20.3.2", True, "front-3"),
                                                   ("127.20.1.2", True, "front-1")], "b"),
            endpoint_slice("api", "http", 8080, [("127.20.1.3", True, "api-1")]),
        ],
        pods=[pod("front-1", "http"), pod("api-1", 9999, "/not-used")],
    )


def test_neg_endpoints_are_ready_pod_ips_at_the_resolved_target_port(objs) -> None:
    cfg = translate(objs, DEFAULTS)
    front = cfg.backend_services["shop/front:80"]
    assert front.endpoints == (EndpointSpec("127.20.1.2", 8080, "shop/front-1"),
                               EndpointSpec("127.20.3.2", 8080, "shop/front-3"))
    assert cfg.problems == ()


def test_routes_by_host_and_path_with_default_backend(objs) -> None:
    url_map = translate(objs, DEFAULTS).url_map
    assert url_map.lookup("shop.example.com:8080", "/api/v1/items") == "shop/api:8000"
    assert url_map.lookup("SHOP.example.com", "/apiary") == "shop/front:80"
    assert url_map.lookup("other.example.com", "/api") == "shop/front:80"


def test_health_check_path_comes_from_the_readiness_probe_on_the_served_port(objs) -> None:
    cfg = translate(objs, DEFAULTS)
    front = cfg.backend_services["shop/front:80"].health_check
    assert (front.request_path, front.source) == ("/ready", "readinessProbe of pod shop/front-1")
    api = cfg.backend_services["shop/api:8000"].health_check  # probe on another port: ignored
    assert (api.request_path, api.source) == ("/", "profile fast")


@pytest.mark.parametrize("annotation", [{"default": "hc"}, {"ports": {"80": "hc"}},
                                        {"ports": {"http": "hc"}, "default": "other"}])
def test_backend_config_overrides_health_check_and_timeout(objs, annotation) -> None:
    objs.services[0]["metadata"]["annotations"] = {
        "cloud.google.com/backend-config": json.dumps(annotation)}
    objs.backend_configs = [{"metadata": meta("hc"), "spec": {
        "timeoutSec": 5,
        "healthCheck": {"checkIntervalSec": 3, "timeoutSec": 2, "healthyThreshold": 2,
                        "unhealthyThreshold": 4, "requestPath": "/hc", "port": 9000,
                        "type": "HTTP"}}}]
    svc = translate(objs, DEFAULTS).backend_services["shop/front:80"]
    hc = svc.health_check
    assert (hc.interval_s, hc.timeout_s, hc.healthy_threshold, hc.unhealthy_threshold,
            hc.request_path, hc.port) == (3, 2, 2, 4, "/hc", 9000)
    assert hc.source == "BackendConfig shop/hc" and svc.timeout_s == 5


def test_bad_references_become_problems_not_crashes(objs) -> None:
    objs.services[0]["metadata"]["annotations"] = {
        "cloud.google.com/backend-config": '{"default": "missing"}'}
    objs.services[1]["metadata"]["annotations"] = {"cloud.google.com/backend-config": "nope"}
    objs.ingresses.append(ingress("late", {"rules": [
        rule("", ("/x", "Exact", "ghost", 80), ("/y", "Prefix", "api", 1234))]},
        created="2025-01-01T00:00:00Z"))
    cfg = translate(objs, DEFAULTS)
    text = "\n".join(cfg.problems)
    assert "BackendConfig shop/missing not found" in text
    assert "is not JSON" in text
    assert "Service shop/ghost not found" in text and "has no port 1234" in text
    assert cfg.backend_services["shop/ghost:80"].endpoints == ()
    assert cfg.backend_services["shop/front:80"].health_check.source.startswith("readiness")


def test_only_gce_class_or_classless_ingresses_are_served(objs) -> None:
    objs.ingresses = [
        ingress("nginx", {"ingressClassName": "nginx", "rules": [
            rule("a.test", ("/", "Prefix", "api", 8000))]}),
        ingress("annotated", {"rules": [rule("b.test", ("/", "Prefix", "api", 8000))]},
                **{"kubernetes.io/ingress.class": "gce"}),
    ]
    url_map = translate(objs, DEFAULTS).url_map
    assert url_map.lookup("a.test", "/") is None
    assert url_map.lookup("b.test", "/") == "shop/api:8000"


def test_oldest_ingress_wins_a_conflict(objs) -> None:
    objs.ingresses = [
        ingress("new", {"rules": [rule("", ("/", "Prefix", "api", 8000))]},
                created="2025-01-01T00:00:00Z"),
        ingress("old", {"rules": [rule("", ("/", "Prefix", "front", "http"))]},
                created="2020-01-01T00:00:00Z"),
    ]
    assert translate(objs, DEFAULTS).url_map.lookup("any", "/") == "shop/front:80"


@pytest.mark.parametrize(("path", "expected"), [
    ("/", "root"), ("/foo", "foo-prefix"), ("/foo/", "foo-prefix"), ("/foobar", "root"),
    ("/foo/bar", "foo-bar-exact"), ("/foo/bar/baz", "foo-prefix"),
    ("/img/a.png", "img-glob"), ("/img", "root"), ("/exact", "impl-exact"),
    ("/exact/x", "root"),
])
def test_path_matching_semantics(path: str, expected: str) -> None:
    url_map = UrlMap((
        Route("", "/", "Prefix", "root"),
        Route("", "/foo/", "Prefix", "foo-prefix"),
        Route("", "/foo/bar", "Exact", "foo-bar-exact"),
        Route("", "/img/*", "ImplementationSpecific", "img-glob"),
        Route("", "/exact", "ImplementationSpecific", "impl-exact"),
    ))
    assert url_map.lookup("h", path) == expected


def test_host_precedence_exact_then_wildcard_then_any() -> None:
    url_map = UrlMap((
        Route("", "/", "Prefix", "any"),
        Route("*.example.com", "/", "Prefix", "wild"),
        Route("www.example.com", "/only", "Exact", "exact"),
    ), default_backend="default")
    assert url_map.lookup("www.example.com", "/only") == "exact"
    assert url_map.lookup("www.example.com", "/other") == "default"  # no fallthrough
    assert url_map.lookup("api.example.com", "/x") == "wild"
    assert url_map.lookup("a.b.example.com", "/x") == "any"  # wildcard is one label
    assert UrlMap().lookup("h", "/") is None
