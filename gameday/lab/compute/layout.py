"""The cluster layout the Compute Engine model is built from, and GKE's naming of its VMs.

Why a layout and not a list of VMs: on GKE, VMs are never created one by one; each node pool is
one managed instance group per zone, and the group names its members. The layout is the user's
view (pools, zones, nodes per zone); `plan` turns it into the names, groups and loopback
addresses the lab then keeps for its whole life, so a recreated VM comes back under the same
name and address, as GKE nodes do.
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
import re
import string
from dataclasses import dataclass

from gameday.errors import UsageError

PROVISIONING_MODELS = ("STANDARD", "PREEMPTIBLE", "SPOT")
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class NodePool:
    """One GKE node pool: `nodes_per_zone` VMs in each of `zones`, one MIG per zone."""

    name: str
    zones: tuple[str, ...]
    nodes_per_zone: int
    provisioning: str = "STANDARD"  # STANDARD, PREEMPTIBLE (scheduling.preemptible) or SPOT
    machine_type: str = "e2-standard-4"


@dataclass(frozen=True)
class ClusterLayout:
    """Where the cluster's VMs live. `node_cidr` must lie inside 127.0.0.0/8 (lab network rule)."""

    project: str
    region: str
    cluster: str
    pools: tuple[NodePool, ...]
    node_cidr: str = "127.10.0.0/16"

    @property
    def zones(self) -> list[str]:
        """Every zone a pool uses, in first-seen order."""
        return list(dict.fromkeys(z for p in self.pools for z in p.zones))


@dataclass(frozen=True)
class PlannedInstance:
    """A VM slot: stable for the lab's life, whatever happens to the VM in it."""

    name: str
    zone: str
    pool: NodePool
    mig: str
    internal_ip: str


@dataclass(frozen=True)
class PlannedMig:
    """A managed instance group: one pool in one zone."""

    name: str
    zone: str
    pool: NodePool
    base_instance_name: str
    members: tuple[str, ...]


def pod_range(internal_ip: str) -> str:
    """The alias range of a node's pods: node 127.B.0.k owns 127.B.k.0/24 (VPC-native GKE gives
    each node a pod range the same way; the VPC's firewall treats those addresses as the VM's)."""
    octets = internal_ip.split(".")
    return f"{octets[0]}.{octets[1]}.{octets[3]}.0/24"


def pool_zone_hash(cluster: str, pool: str, zone: str) -> str:
    """The 8-hex part GKE puts in a pool's group and VM names, fixed per pool and zone."""
    return hashlib.sha256(f"{cluster}/{pool}/{zone}".encode()).hexdigest()[:8]


def validate(layout: ClusterLayout) -> None:
    """Refuse a layout GKE could not have, before anything is created."""
    for label, value in (("project", layout.project), ("cluster", layout.cluster)):
        if not _NAME.match(value):
            raise UsageError(f"{label} name {value!r} must be lowercase letters, digits and '-'")
    if not layout.pools:
        raise UsageError("the cluster layout has no node pool: give at least one")
    if len({p.name for p in layout.pools}) != len(layout.pools):
        raise UsageError("node pool names must be unique within the cluster layout")
    for pool in layout.pools:
        if not _NAME.match(pool.name):
            raise UsageError(f"node pool name {pool.name!r} must be lowercase letters, digits, '-'")
        if pool.provisioning not in PROVISIONING_MODELS:
            raise UsageError(f"node pool {pool.name!r}: provisioning {pool.provisioning!r} is "
                             f"not one of {', '.join(PROVISIONING_MODELS)}")
        if pool.nodes_per_zone < 0 or not pool.zones:
            raise UsageError(f"node pool {pool.name!r} needs zones and nodes_per_zone >= 0")
        for zone in pool.zones:
            if not zone.startswith(layout.region + "-"):
                raise UsageError(f"zone {zone!r} of pool {pool.name!r} is not in region "
                                 f"{layout.region!r}: a GKE regional cluster stays in one region")
    net = ipaddress.ip_network(layout.node_cidr)
    if not net.subnet_of(LOOPBACK):  # type: ignore[arg-type]
        raise UsageError(f"node_cidr {layout.node_cidr} is outside 127.0.0.0/8: the lab may "
                         "only use loopback addresses")


def plan(layout: ClusterLayout, seed: int | None = None) -> tuple[list[PlannedMig],
                                                                  list[PlannedInstance]]:
    """Name every group and VM the way GKE does, and give each VM a loopback address.

    Names: group `gke-<cluster>-<pool>-<8hex>-grp`, VM `gke-<cluster>-<pool>-<8hex>-<4char>`.
    `seed` makes the 4-character suffixes reproducible (default: from the cluster name).
    """
    validate(layout)
    rng = random.Random(seed if seed is not None else layout.cluster)
    hosts = ipaddress.ip_network(layout.node_cidr).hosts()
    migs: list[PlannedMig] = []
    instances: list[PlannedInstance] = []
    for pool in layout.pools:
        for zone in pool.zones:
            hex8 = pool_zone_hash(layout.cluster, pool.name, zone)
            base = f"gke-{layout.cluster}-{pool.name}-{hex8}"
            mig = f"{base}-grp"
            names: list[str] = []
            while len(names) < pool.nodes_per_zone:
                name = f"{base}-{''.join(rng.choices(string.ascii_lowercase + string.digits, k=4))}"
                if name not in names:
                    names.append(name)
            for name in names:
                try:
                    ip = str(next(hosts))
                except StopIteration:
                    raise UsageError(f"node_cidr {layout.node_cidr} has too few addresses for "
                                     "the layout's nodes: use a larger range") from None
                instances.append(PlannedInstance(name, zone, pool, mig, ip))
            migs.append(PlannedMig(mig, zone, pool, base, tuple(names)))
    return migs, instances
