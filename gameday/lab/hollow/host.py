"""The seam between the simulated cloud (VMs) and the simulated kubelets running on them.

The Compute Engine model owns VM state (RUNNING, TERMINATED, preempted, MIG recreation); what
runs *on* a VM is a hollow kubelet. The model drives it only through this protocol, so each side
can be tested alone and the compute model never touches the Kubernetes API itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class NodeSpec:
    """What a booting VM tells its kubelet: identity, placement, and the GKE labels' inputs."""

    name: str  # instance name == Kubernetes node name, as on GKE
    zone: str  # e.g. europe-west1-b
    region: str  # e.g. europe-west1
    pool: str  # GKE node pool name
    provisioning: str  # "STANDARD", "PREEMPTIBLE" (scheduling.preemptible) or "SPOT"
    project: str  # GCE project id, used in spec.providerID gce://project/zone/name
    instance_id: int  # changes on every recreation, as on GCE
    internal_ip: str  # in 127.0.0.0/8, never anything else


class NodeHost(Protocol):
    """What a VM's power state does to the node running on it."""

    async def power_on(self, spec: NodeSpec) -> None:
        """The VM is RUNNING: register (or re-register) the node with a new boot id."""

    async def power_off(self, name: str, *, graceful: bool) -> None:
        """The VM stops. graceful: pods get GKE's shutdown grace first (preemption notice or
        guest shutdown); otherwise every process dies at once. Either way heartbeats stop and the
        real node-lifecycle controller must notice. Returns when the node is off."""

    async def remove(self, name: str) -> None:
        """The VM is gone for good (deleted, not recreated): delete its Node object."""


class NodeNetwork(Protocol):
    """The VPC the VMs sit in (gameday.lab.compute.network): may a connection pass, and a call
    after every change of its rules or tags."""

    def blocked(self, src_ip: str, dst_ip: str, port: int, protocol: str = "tcp") -> str | None:
        """None if the connection may pass, else why not (which firewall rule)."""

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener` after each change."""
