"""The watcher's cache: complete first sync, debounced rebuilds, no rebuild on pod status churn."""

from __future__ import annotations

import asyncio
import copy

from gameday.lab.ingress.healthcheck import HealthCheckSettings
from gameday.lab.ingress.lb import LoadBalancer
from gameday.lab.ingress.watcher import DEBOUNCE_S, RESOURCES, ClusterCache

DEFAULTS = HealthCheckSettings(interval_s=5, timeout_s=1, healthy_threshold=1,
                               unhealthy_threshold=2)


def obj(name: str, **fields: object) -> dict:
    return {"metadata": {"name": name, "namespace": "ns", "uid": name, **fields.pop("meta", {})},
            **fields}


INGRESS = obj("ing", spec={"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}})
SERVICE = obj("web", spec={"ports": [{"port": 80, "targetPort": 8080}]})
SLICE = obj("web-x", meta={"labels": {"kubernetes.io/service-name": "web"}},
            ports=[{"port": 8080}],
            endpoints=[{"addresses": ["127.0.0.1"], "conditions": {"ready": True},
                        "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "ns"}}])
POD = obj("web-1", spec={"containers": [{"readinessProbe": {"httpGet": {"path": "/r",
                                                                         "port": 8080}}}]},
          status={"phase": "Running"})


def test_first_configuration_waits_for_every_resource_then_follows_changes() -> None:
    async def main() -> None:
        lb = LoadBalancer("127.0.0.1:0", "127.0.0.1:0")
        await lb.start()
        applied: list[int] = []
        original = lb.apply
        lb.apply = lambda cfg, **kw: (applied.append(1), original(cfg, **kw))  # type: ignore
        cache = ClusterCache(lb, DEFAULTS)
        settle = DEBOUNCE_S * 3
        try:
            for resource, items in (("ingresses", [INGRESS]), ("services", [SERVICE]),
                                    ("endpointslices", [SLICE]), ("pods", [POD])):
                cache.on_event(resource, "SYNC", items)
            await asyncio.sleep(settle)
            assert applied == [] and not lb.synced  # backendconfigs not listed yet
            cache.on_event("backendconfigs", "SYNC", [])
            assert cache.listed == RESOURCES.keys()
            await asyncio.sleep(settle)
            assert len(applied) == 1 and lb.synced
            bs = lb.pool.services["ns/web:80"]
            assert [e.spec.address for e in bs.endpoints.values()] == ["127.0.0.1:8080"]
            assert bs.spec.health_check.request_path == "/r"

            churn = copy.deepcopy(POD)
            churn["status"]["phase"] = "Succeeded"  # status only: the view is unchanged
            cache.on_event("pods", "MODIFIED", churn)
            await asyncio.sleep(settle)
            assert len(applied) == 1

            not_ready = copy.deepcopy(SLICE)
            not_ready["endpoints"][0]["conditions"]["ready"] = False
            cache.on_event("endpointslices", "MODIFIED", not_ready)
            cache.on_event("services", "MODIFIED", SERVICE)  # same again: coalesced
            await asyncio.sleep(settle)
            assert len(applied) == 2 and lb.pool.services["ns/web:80"].endpoints == {}

            cache.on_event("ingresses", "DELETED", INGRESS)
            await asyncio.sleep(settle)
            assert lb.pool.services == {}
        finally:
            await lb.stop()
    asyncio.run(main())
