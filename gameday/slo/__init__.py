"""SLOs judged from Prometheus over the phases of a game day.

    Availability(0.99)                       success ratio >= 99% (Locust's client-side counts)
    Availability.from_lb(0.99, backend_service="web")
    Availability.from_gclb(0.99, ingress="shop/web")   GCLB's own count (GKE Ingress or lab)
    Latency(0.95, 0.25)                      p95 <= 250 ms from a duration histogram
    Latency.from_gclb(0.95, 0.25, ingress="shop/web")
    BurnRate(slo_target=0.999, max_burn=14.4)
    RecoveryTime(Availability(0.99), bound_s=60)

Each has `evaluate(prom, window) -> Verdict`; `assert_slos(verdicts)` fails the test with every
verdict that is not PASS. No data is never a pass: it is INCONCLUSIVE.
"""

from gameday.slo.availability import Availability
from gameday.slo.base import PHASES, Indicator, Measurement, Status, Verdict, Window, assert_slos
from gameday.slo.burn_rate import BurnRate
from gameday.slo.latency import Latency
from gameday.slo.recovery import RecoveryTime

__all__ = [
    "PHASES",
    "Availability",
    "BurnRate",
    "Indicator",
    "Latency",
    "Measurement",
    "RecoveryTime",
    "Status",
    "Verdict",
    "Window",
    "assert_slos",
]
