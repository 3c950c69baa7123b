"""The load balancer end to end on loopback: real aiohttp backends, real health checks."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace

import aiohttp

from gameday.lab.ingress.healthcheck import HealthCheckSettings, HealthState
from gameday.lab.ingress.lb import LoadBalancer
from gameday.lab.ingress.testing import LoopbackBackend, single_service_config
from gameday.lab.ingress.urlmap import Route, UrlMap

FAST = HealthCheckSettings(interval_s=0.1, timeout_s=0.1, healthy_threshold=1,
                           unhealthy_threshold=2, request_path="/healthz")
SERVICE = "default/web:80"
TIMEOUT = aiohttp.ClientTimeout(total=5)


async def wait_for(what: str, cond: Callable[[], bool], timeout_s: float = 3.0) -> float:
    """Poll `cond` every 10 ms; return when it held, fail the test if it never does."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)
    return time.monotonic()


def state(lb: LoadBalancer, backend: LoopbackBackend) -> HealthState | None:
    ep = lb.pool.endpoint(SERVICE, backend.endpoint.address)
    return None if ep is None else ep.health.state


def run(scenario: Callable[[LoadBalancer, aiohttp.ClientSession, str], Awaitable[None]]) -> None:
    async def main() -> None:
        lb = LoadBalancer("127.0.0.1:0", "127.0.0.1:0")
        await lb.start()
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
                await scenario(lb, http, f"http://127.0.0.1:{lb.ports[0]}")
        finally:
            await lb.stop()
    asyncio.run(main())


async def get(http: aiohttp.ClientSession, url: str, **kw) -> tuple[int, str]:
    async with http.get(url, **kw) as resp:
        return resp.status, await resp.text()


def test_traffic_reaches_every_healthy_backend_round_robin() -> None:
    async def scenario(lb, http, url):
        backends = [await LoopbackBackend(f"b{i}").start() for i in range(3)]
        lb.apply(single_service_config(backends, FAST))
        await wait_for("all healthy", lambda: all(
            state(lb, b) is HealthState.HEALTHY for b in backends))
        seen = Counter([(await get(http, f"{url}/x?q=1", headers={"Host": "shop.test"}))
                        for _ in range(30)])
        assert seen == {(200, "b0"): 10, (200, "b1"): 10, (200, "b2"): 10}
        for b in backends:
            await b.stop()
    run(scenario)


def test_killed_backend_gives_502s_only_until_the_unhealthy_threshold() -> None:
    async def scenario(lb, http, url):
        alive = await LoopbackBackend("alive").start()
        doomed = await LoopbackBackend("doomed").start()
        lb.apply(single_service_config([alive, doomed], FAST))
        await wait_for("both healthy", lambda: state(lb, doomed) is HealthState.HEALTHY
                       and state(lb, alive) is HealthState.HEALTHY)
        await doomed.stop()
        killed = time.monotonic()
        codes: Counter[int] = Counter()
        while state(lb, doomed) is not HealthState.UNHEALTHY:
            assert time.monotonic() - killed < 3, "the LB never marked the dead backend"
            codes[(await get(http, url))[0]] += 1
        window = time.monotonic() - killed
        after = Counter([(await get(http, url))[0] for _ in range(50)])
        # the lag is real (some requests went to the dead backend) and bounded by
        # unhealthy_threshold x interval + timeout (+ scheduling slack)
        assert codes[502] > 0 and set(codes) <= {200, 502}
        assert window < 2 * FAST.interval_s + FAST.timeout_s + 0.3
        assert after == {200: 50}
        await alive.stop()
    run(scenario)


def test_new_backend_gets_traffic_only_after_passing_a_check() -> None:
    async def scenario(lb, http, url):
        old = await LoopbackBackend("old").start()
        lb.apply(single_service_config([old], FAST))
        await wait_for("old healthy", lambda: state(lb, old) is HealthState.HEALTHY)
        new = await LoopbackBackend("new", healthy=False).start()
        lb.apply(single_service_config([old, new], FAST))
        await wait_for("new checked and failing",
                       lambda: state(lb, new) is HealthState.UNHEALTHY)
        bodies = {(await get(http, url))[1] for _ in range(20)}
        assert bodies == {"old"} and new.requests == 0
        new.healthy = True
        await wait_for("new healthy", lambda: state(lb, new) is HealthState.HEALTHY)
        bodies = Counter([(await get(http, url))[1] for _ in range(20)])
        assert bodies == {"old": 10, "new": 10}
        for b in (old, new):
            await b.stop()
    run(scenario)


def test_no_backend_is_502_and_unknown_host_or_path_is_404() -> None:
    async def scenario(lb, http, url):
        sick = await LoopbackBackend("sick", healthy=False).start()
        cfg = single_service_config([sick], FAST)
        lb.apply(replace(cfg, url_map=UrlMap((Route("shop.test", "/app", "Prefix", SERVICE),))))
        await wait_for("sick checked", lambda: state(lb, sick) is HealthState.UNHEALTHY)
        status, body = await get(http, f"{url}/app/x", headers={"Host": "shop.test"})
        assert status == 502 and "failed_to_pick_backend" in body
        assert (await get(http, f"{url}/other", headers={"Host": "shop.test"}))[0] == 404
        assert (await get(http, f"{url}/app", headers={"Host": "else.test"}))[0] == 404
        assert sick.requests == 0
        await sick.stop()
    run(scenario)


def test_endpoint_removed_from_the_slice_leaves_the_pool_at_once() -> None:
    async def scenario(lb, http, url):
        a, b = await LoopbackBackend("a").start(), await LoopbackBackend("b").start()
        lb.apply(single_service_config([a, b], FAST))
        await wait_for("both healthy", lambda: state(lb, a) is state(lb, b) is HealthState.HEALTHY)
        lb.apply(single_service_config([a], FAST))
        assert state(lb, b) is None
        assert {(await get(http, url))[1] for _ in range(10)} == {"a"}
        for x in (a, b):
            await x.stop()
    run(scenario)


def test_hanging_backend_is_cut_at_the_backend_service_timeout() -> None:
    async def scenario(lb, http, url):
        slow = await LoopbackBackend("slow", delay_s=5).start()
        lb.apply(single_service_config([slow], FAST, timeout_s=0.3))
        await wait_for("healthy", lambda: state(lb, slow) is HealthState.HEALTHY)
        started = time.monotonic()
        status, body = await get(http, url)
        assert (status, "backend_timeout" in body) == (502, True)
        assert 0.3 <= time.monotonic() - started < 1.5
        await slow.stop()
    run(scenario)


def test_health_check_settings_change_applies_to_the_next_check() -> None:
    async def scenario(lb, http, url):
        backend = await LoopbackBackend("b").start()
        slow = replace(FAST, interval_s=30, timeout_s=1)
        lb.apply(single_service_config([backend], slow))
        await wait_for("first check", lambda: state(lb, backend) is HealthState.HEALTHY)
        ep = lb.pool.endpoint(SERVICE, backend.endpoint.address)
        first = ep.health.last_check
        lb.apply(single_service_config([backend], replace(slow, interval_s=0.2)))
        # without the live change the next check would come 30 s later
        await wait_for("next check", lambda: ep.health.last_check != first, timeout_s=2)
        backend.healthy = False
        await wait_for("unhealthy", lambda: state(lb, backend) is HealthState.UNHEALTHY,
                       timeout_s=2)
        await backend.stop()
    run(scenario)


def test_metrics_and_debug_backends_on_the_admin_server() -> None:
    async def scenario(lb, http, url):
        backend = await LoopbackBackend("b").start()
        lb.apply(single_service_config([backend], FAST))
        await wait_for("healthy", lambda: state(lb, backend) is HealthState.HEALTHY)
        for _ in range(3):
            assert (await get(http, url))[0] == 200
        await backend.stop()
        await wait_for("unhealthy", lambda: state(lb, backend) is HealthState.UNHEALTHY)
        assert (await get(http, url))[0] == 502
        admin = f"http://127.0.0.1:{lb.ports[1]}"
        status, text = await get(http, f"{admin}/metrics")
        addr = backend.endpoint.address
        assert status == 200
        for line in (
            f'gameday_lb_requests_total{{backend="{addr}",backend_service="{SERVICE}",'
            'code="200",code_class="2xx"} 3.0',
            f'gameday_lb_requests_total{{backend="",backend_service="{SERVICE}",'
            'code="502",code_class="5xx"} 1.0',
            f'gameday_lb_backend_healthy{{backend="{addr}",backend_service="{SERVICE}"}} 0.0',
        ):
            assert line in text, line
        assert 'le="0.005"' in text and 'le="10.0"' in text
        assert 'result="success"} ' in text and "gameday_lb_health_checks_total" in text
        doc = await (await http.get(f"{admin}/debug/backends")).json()
        ep = doc["backend_services"][SERVICE]["endpoints"][0]
        assert ep["address"] == addr and ep["state"] == "UNHEALTHY"
        assert ep["consecutive_failures"] >= 2 and ep["last_check"] > 0
        assert doc["backend_services"][SERVICE]["health_check"]["request_path"] == "/healthz"
        assert (await get(http, f"{admin}/healthz"))[0] == 200
        lb.apply(single_service_config([], FAST))  # detached: its series disappear
        health_series = [line for line in (await get(http, f"{admin}/metrics"))[1].splitlines()
                         if line.startswith(("gameday_lb_backend_healthy{",
                                             "gameday_lb_health_checks_total{"))]
        assert health_series == []
    run(scenario)
