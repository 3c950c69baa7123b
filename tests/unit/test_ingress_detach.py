"""NEG detach delay: an endpoint that left the EndpointSlice still gets traffic (if its health
check still passes) until the delay runs out, as on GKE before ingress-gce detaches it."""

from __future__ import annotations

from gameday.lab.ingress.healthcheck import CheckResult, HealthCheckSettings
from gameday.lab.ingress.pool import BackendPool
from gameday.lab.ingress.translate import BackendServiceSpec, EndpointSpec, LbConfig

SETTINGS = HealthCheckSettings(interval_s=1, timeout_s=1, healthy_threshold=1,
                               unhealthy_threshold=2)
A, B = EndpointSpec("127.20.1.2", 8080), EndpointSpec("127.20.2.2", 8080)


def config(*endpoints: EndpointSpec) -> LbConfig:
    return LbConfig(backend_services={"web": BackendServiceSpec("web", endpoints, SETTINGS)})


def healthy_pool(delay: float) -> BackendPool:
    pool = BackendPool(detach_delay_s=delay)
    pool.apply(config(A, B), now=0.0)
    for ep in (A, B):
        pool.record("web", ep.address, CheckResult.SUCCESS, 0.0)
    return pool


def test_removed_endpoint_keeps_traffic_until_the_detach_delay() -> None:
    pool = healthy_pool(delay=5.0)
    change = pool.apply(config(B), now=10.0)
    assert change.removed == ()
    assert {pool.pick("web") for _ in range(4)} == {A, B}  # still routed: the lag a game day sees
    assert pool.expire(14.9).removed == ()
    assert pool.expire(15.0).removed == (("web", A.address),)
    assert {pool.pick("web") for _ in range(4)} == {B}


def test_endpoint_back_before_its_detach_stays_attached() -> None:
    pool = healthy_pool(delay=5.0)
    pool.apply(config(B), now=10.0)
    pool.apply(config(A, B), now=12.0)
    assert pool.expire(100.0).removed == ()


def test_no_delay_detaches_at_once() -> None:
    pool = healthy_pool(delay=0.0)
    assert pool.apply(config(B), now=10.0).removed == (("web", A.address),)
