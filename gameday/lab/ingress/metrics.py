"""The load balancer's Prometheus metrics, in the spirit of GCLB's request and backend metrics.

Own registry (not the process-global one) so that several load balancers in one test process
never share series. Series of an endpoint that left the pool are removed, so a dashboard never
shows a detached backend as still healthy.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from gameday.lab.ingress.gclb import GclbMetrics
from gameday.lab.ingress.healthcheck import CheckResult

# Must contain every latency SLO threshold a scenario may use (0.005 s .. 10 s), plus the 30 s
# backend timeout.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0)


class LbMetrics:
    """Counters, histogram and gauges of one load balancer."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gameday_lb_requests", "Requests answered by the load balancer.",
            ["backend_service", "backend", "code", "code_class"], registry=self.registry)
        self.duration = Histogram(
            "gameday_lb_request_duration_seconds",
            "Total latency seen by the load balancer, first byte in to last byte out.",
            ["backend_service", "code_class"], buckets=DURATION_BUCKETS, registry=self.registry)
        self.healthy = Gauge(
            "gameday_lb_backend_healthy", "1 if the endpoint passes the LB health check.",
            ["backend_service", "backend"], registry=self.registry)
        self.health_checks = Counter(
            "gameday_lb_health_checks", "Health-check probes sent by the load balancer.",
            ["backend_service", "backend", "result"], registry=self.registry)
        self.gclb = GclbMetrics()  # the same requests, as GCLB's Cloud Monitoring metrics
        self.registry.register(self.gclb)

    def observe_request(self, backend_service: str, backend: str, code: int,
                        seconds: float, ingress: str) -> None:
        """One answered request; `ingress` ("namespace/name") is whose URL map matched it."""
        self.gclb.observe(ingress, backend_service, code, seconds)
        code_class = f"{code // 100}xx"
        self.requests.labels(backend_service, backend, str(code), code_class).inc()
        self.duration.labels(backend_service, code_class).observe(seconds)

    def observe_check(self, backend_service: str, backend: str, result: CheckResult,
                      healthy: bool) -> None:
        self.health_checks.labels(backend_service, backend, str(result)).inc()
        self.healthy.labels(backend_service, backend).set(1 if healthy else 0)

    def track_endpoint(self, backend_service: str, backend: str) -> None:
        """A new endpoint is attached: visible as not healthy until its first passed check."""
        self.healthy.labels(backend_service, backend).set(0)

    def forget_endpoint(self, backend_service: str, backend: str) -> None:
        """Drop the gauge and check counters of a detached endpoint."""
        for metric, extra in ((self.healthy, ()),
                              *((self.health_checks, (str(r),)) for r in CheckResult)):
            try:
                metric.remove(backend_service, backend, *extra)
            except KeyError:
                continue  # that label set was never observed

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
