"""The load balancer's own health-check state machine, per endpoint, free of any I/O.

GCLB does not trust kubelet readiness alone: each backend endpoint must pass the load balancer's
own health check before it receives traffic, and keeps receiving traffic until it has failed
`unhealthy_threshold` consecutive checks. That lag is exactly what a game day measures after an
abrupt backend death, so the thresholds are modelled to the letter:

    UNKNOWN ──healthy_threshold successes──▶ HEALTHY ──unhealthy_threshold failures──▶ UNHEALTHY
       └────unhealthy_threshold failures──▶ UNHEALTHY ──healthy_threshold successes──▶ HEALTHY

A timeout counts as a failure. Settings are read at every `record`, so a BackendConfig edit takes
effect on the very next check, with the consecutive counts kept, as on GCLB.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass

from gameday.errors import UsageError
from gameday.lab.profiles import Profile

CHECK_TYPES = ("HTTP", "HTTPS", "HTTP2")


class HealthState(enum.StrEnum):
    """GCLB's health states; only HEALTHY endpoints are picked for traffic."""

    UNKNOWN = "UNKNOWN"
    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"


class CheckResult(enum.StrEnum):
    """The outcome of one probe; `success` is the only one that counts towards healthy."""

    SUCCESS = "success"
    FAILURE = "failure"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class HealthCheckSettings:
    """Effective health check of one backend service, and where its values came from."""

    interval_s: float
    timeout_s: float
    healthy_threshold: int
    unhealthy_threshold: int
    request_path: str = "/"
    port: int | None = None  # None: the endpoint's serving port (NEG default)
    type: str = "HTTP"
    source: str = "default"

    def __post_init__(self) -> None:
        if self.interval_s <= 0 or self.timeout_s <= 0:
            raise UsageError(
                f"health check interval ({self.interval_s}s) and timeout ({self.timeout_s}s) "
                "must be positive: fix checkIntervalSec/timeoutSec in the BackendConfig"
            )
        if self.healthy_threshold < 1 or self.unhealthy_threshold < 1:
            raise UsageError(
                f"health check thresholds must be >= 1 (got healthy={self.healthy_threshold}, "
                f"unhealthy={self.unhealthy_threshold}): fix the BackendConfig"
            )
        if self.type not in CHECK_TYPES:
            raise UsageError(
                f"health check type {self.type!r} is not supported: use one of "
                f"{', '.join(CHECK_TYPES)}"
            )
        if not self.request_path.startswith("/"):
            raise UsageError(f"health check requestPath {self.request_path!r} must start with /")

    @property
    def effective_timeout_s(self) -> float:
        """GCE rejects timeoutSec > checkIntervalSec; we clamp instead of failing the sync."""
        return min(self.timeout_s, self.interval_s)

    @classmethod
    def from_profile(cls, profile: Profile) -> HealthCheckSettings:
        """ingress-gce's NEG defaults, scaled by the timing profile."""
        return cls(
            interval_s=profile.hc_interval,
            timeout_s=profile.hc_timeout,
            healthy_threshold=int(profile.hc_healthy_threshold),
            unhealthy_threshold=int(profile.hc_unhealthy_threshold),
            source=f"profile {profile.name}",
        )

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "effective_timeout_s": self.effective_timeout_s}


@dataclass
class EndpointHealth:
    """Health of one endpoint as seen by one backend service's health check."""

    state: HealthState = HealthState.UNKNOWN
    consecutive_successes: int = 0
    consecutive_failures: int = 0
    last_check: float | None = None  # wall-clock time of the last recorded result
    last_result: CheckResult | None = None

    @property
    def serving(self) -> bool:
        """Whether the load balancer may send traffic to this endpoint."""
        return self.state is HealthState.HEALTHY

    def record(self, result: CheckResult, settings: HealthCheckSettings, at: float) -> bool:
        """Account one probe result; return True if the state changed."""
        self.last_check = at
        self.last_result = result
        if result is CheckResult.SUCCESS:
            self.consecutive_successes += 1
            self.consecutive_failures = 0
            target, reached = HealthState.HEALTHY, (
                self.consecutive_successes >= settings.healthy_threshold
            )
        else:
            self.consecutive_failures += 1
            self.consecutive_successes = 0
            target, reached = HealthState.UNHEALTHY, (
                self.consecutive_failures >= settings.unhealthy_threshold
            )
        if reached and self.state is not target:
            self.state = target
            return True
        return False

    def as_dict(self) -> dict[str, object]:
        return {
            "state": str(self.state),
            "consecutive_successes": self.consecutive_successes,
            "consecutive_failures": self.consecutive_failures,
            "last_check": self.last_check,
            "last_result": None if self.last_result is None else str(self.last_result),
        }
