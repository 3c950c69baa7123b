"""Timing profiles: every duration the lab models, in one table, with its GKE source.

`gke` uses the real defaults (see shared GKE-FACTS): a zone outage then takes minutes, as it
does on GKE. `fast` scales them down so a whole scenario fits in about a minute on CI; results
in `fast` say so in reports, because recovery times measured there are not GKE's.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from gameday.errors import UsageError


@dataclass(frozen=True)
class Timing:
    """One modelled duration: its value in each profile and where the GKE value comes from."""

    gke: float
    fast: float
    source: str


# name -> Timing. Seconds unless the name says otherwise.
TIMINGS: dict[str, Timing] = {
    "lease_duration": Timing(40, 4, "kubelet nodeLeaseDurationSeconds default 40 s"),
    "lease_renew_interval": Timing(10, 1, "kubelet renews its Lease every 1/4 of its duration"),
    "node_status_update": Timing(10, 2, "kubelet nodeStatusUpdateFrequency 10 s"),
    "node_monitor_period": Timing(5, 1, "kube-controller-manager --node-monitor-period 5 s"),
    "node_monitor_grace_period": Timing(
        40, 5, "kube-controller-manager --node-monitor-grace-period 40 s (50 s from 1.32)"
    ),
    "not_ready_toleration": Timing(
        300, 8, "DefaultTolerationSeconds for node.kubernetes.io/not-ready 300 s"
    ),
    "unreachable_toleration": Timing(
        300, 8, "DefaultTolerationSeconds for node.kubernetes.io/unreachable 300 s"
    ),
    "preemption_notice": Timing(30, 3, "Compute Engine preemption: ACPI soft off to hard off 30 s"),
    "preemption_pod_grace": Timing(
        15, 1.5, "GKE graceful node shutdown on preemption: 15 s for regular pods"
    ),
    "preemption_critical_pod_grace": Timing(
        15, 1.0, "GKE graceful node shutdown: then 15 s for system-critical pods"
    ),
    "mig_recreate_delay": Timing(
        60, 2, "MIG REPAIR recreates a failed member (VM creation ~1 min)"
    ),
    "vm_boot": Timing(40, 1, "VM boot until the kubelet registers the node (~40 s on GKE)"),
    # fast: room for the whole graceful node shutdown it bounds (1.5 + 1.0 s); at 1 s the
    # shutdown was cut short, the pods were never marked Failed, and their replacements
    # waited for the taint manager instead (up to a minute)
    "vm_stop": Timing(30, 2.5, "instances.stop: guest shutdown until TERMINATED (up to 90 s)"),
    "hc_interval": Timing(15, 1, "ingress-gce NEG health check checkIntervalSec 15 s"),
    "hc_timeout": Timing(15, 1, "ingress-gce NEG health check timeoutSec 15 s"),
    "hc_healthy_threshold": Timing(1, 1, "ingress-gce NEG healthyThreshold 1 (a count)"),
    "hc_unhealthy_threshold": Timing(2, 2, "ingress-gce NEG unhealthyThreshold 2 (a count)"),
    "scrape_interval": Timing(15, 1, "Prometheus scrape interval (GMP default 30 s, often 15 s)"),
    "neg_detach_delay": Timing(
        15, 6, "NEG detach after a pod leaves the EndpointSlice: ingress-gce NEG sync + GCLB "
        "reprogramming take seconds to tens of seconds (why GKE advises a preStop delay)"
    ),
    "neg_readiness_gate_timeout": Timing(
        600, 30, "NEG readiness gate forced True after 10 min"
    ),
    "oauth_token_lifetime": Timing(
        3600, 60, "Google OAuth2 access tokens (a service account's, for Managed Prometheus) "
        "expire after 1 h"
    ),
}

PROFILES = ("gke", "fast")


@dataclass(frozen=True)
class Profile:
    """Resolved durations of one profile; attribute names are the keys of TIMINGS."""

    name: str
    lease_duration: float
    lease_renew_interval: float
    node_status_update: float
    node_monitor_period: float
    node_monitor_grace_period: float
    not_ready_toleration: float
    unreachable_toleration: float
    preemption_notice: float
    preemption_pod_grace: float
    preemption_critical_pod_grace: float
    mig_recreate_delay: float
    vm_boot: float
    vm_stop: float
    hc_interval: float
    hc_timeout: float
    hc_healthy_threshold: float
    hc_unhealthy_threshold: float
    scrape_interval: float
    neg_detach_delay: float
    neg_readiness_gate_timeout: float
    oauth_token_lifetime: float

    def reschedule_timeout_s(self) -> float:
        """How long to wait for the pods of unreachable nodes to run elsewhere: the node
        controller notices (grace period), then the pods' unreachable toleration runs out
        (GKE: ~6 min in all)."""
        return _wait_bound(self.node_monitor_grace_period + self.node_monitor_period
                           + self.unreachable_toleration)

    def node_replacement_timeout_s(self) -> float:
        """How long to wait for a preempted VM to be back as a Ready node: notice, shutdown
        grace, MIG recreation, boot, first status (GKE: ~3 min)."""
        return _wait_bound(self.preemption_notice + self.preemption_pod_grace
                           + self.preemption_critical_pod_grace + self.mig_recreate_delay
                           + self.vm_boot + self.node_status_update)

    def describe(self) -> list[tuple[str, float, str]]:
        """(name, value, GKE source) rows, for `lab status` and reports."""
        return [(f.name, getattr(self, f.name), TIMINGS[f.name].source) for f in fields(self)
                if f.name != "name"]


def _wait_bound(expected_s: float) -> float:
    """A timeout for something expected to take `expected_s`: twice that, plus a minute for
    scheduling, image pulls and a busy machine. A timeout is an error, not a verdict: it must
    not fire on a slow but healthy recovery."""
    return 2 * expected_s + 60


def get_profile(name: str) -> Profile:
    """Resolve a profile by name; an unknown name is a usage error listing the known ones."""
    if name not in PROFILES:
        raise UsageError(f"unknown timing profile {name!r}: choose one of {', '.join(PROFILES)}")
    return Profile(name=name, **{key: getattr(t, name) for key, t in TIMINGS.items()})
