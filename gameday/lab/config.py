"""What a lab looks like: nodes, zones, pools, profile, addresses; validated before it starts.

Every address is in 127.0.0.0/8 (the workplace's hard network rule): node k of a lab with
`ip_block` B has InternalIP 127.B.0.k and its pods 127.B.k.2-254, so two labs on one machine
(a user's and the test suite's) differ only in B and never collide.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field

from gameday.errors import UsageError
from gameday.lab.compute.layout import ClusterLayout, NodePool, pod_range
from gameday.lab.profiles import get_profile

PROVISIONING = {"standard": "STANDARD", "preemptible": "PREEMPTIBLE", "spot": "SPOT"}
SERVICE_BLOCK = 96  # 127.96.0.0/16 is the lab's Service CIDR
MAX_NODES = 250  # node IPs 127.B.0.1-250, one /24 of pod IPs each


@dataclass(frozen=True)
class PoolConfig:
    """A GKE node pool: a name and how its VMs are provisioned (standard, preemptible, spot)."""

    name: str
    kind: str = "spot"

    @classmethod
    def parse(cls, text: str) -> PoolConfig:
        """Parse `NAME[:KIND]`, e.g. `spot-pool:spot` or `default-pool:standard`."""
        name, _, kind = text.partition(":")
        kind = kind or "spot"
        if not name or not name.replace("-", "").isalnum() or name != name.lower():
            raise UsageError(f"bad node pool name {name!r}: use lowercase letters, digits and '-'")
        if kind not in PROVISIONING:
            raise UsageError(
                f"unknown provisioning {kind!r} for pool {name!r}: "
                f"choose one of {', '.join(PROVISIONING)}"
            )
        return cls(name, kind)


@dataclass(frozen=True)
class LabConfig:
    """The shape of a lab; `validate()` turns every impossible request into a UsageError."""

    nodes: int = 6
    zones: int = 3
    region: str = "europe-west1"
    pools: tuple[PoolConfig, ...] = field(default_factory=lambda: (PoolConfig("spot-pool"),))
    profile: str = "fast"
    project: str = "gameday-lab"
    cluster: str = "lab"
    ip_block: int | None = None  # None: the first free block from 20 up, chosen by `lab up`
    deploy_app: bool = True

    def validate(self) -> LabConfig:
        get_profile(self.profile)
        if self.nodes < 1:
            raise UsageError(f"--nodes must be at least 1 (got {self.nodes})")
        if self.nodes > MAX_NODES:
            raise UsageError(f"--nodes must be at most {MAX_NODES} (got {self.nodes})")
        if self.zones < 1 or self.zones > 26:
            raise UsageError(f"--zones must be between 1 and 26 (got {self.zones})")
        if self.zones > self.nodes:
            raise UsageError(
                f"more zones ({self.zones}) than nodes ({self.nodes}): every zone needs a node; "
                "lower --zones or raise --nodes"
            )
        if self.nodes % (self.zones * len(self.pools)):
            raise UsageError(
                f"{self.nodes} nodes cannot be spread evenly over {self.zones} zones x "
                f"{len(self.pools)} pool(s): a GKE regional node pool has the same node count in "
                f"every zone; use a multiple of {self.zones * len(self.pools)}"
            )
        if not self.pools:
            raise UsageError("a lab needs at least one node pool")
        if len({p.name for p in self.pools}) != len(self.pools):
            raise UsageError("node pool names must be unique")
        if self.ip_block is not None and (not 1 <= self.ip_block <= 254
                                          or self.ip_block == SERVICE_BLOCK):
            raise UsageError(f"--ip-block must be 1-254 and not 96 (got {self.ip_block})")
        return self

    @property
    def zone_names(self) -> list[str]:
        """GKE-style zone names: europe-west1-b, -c, -d, ... (GCE regions rarely have an -a)."""
        letters = "bcdefghijklmnopqrstuvwxyza"
        return [f"{self.region}-{letters[i]}" for i in range(self.zones)]

    def to_layout(self) -> ClusterLayout:
        """The compute model's view: each pool has the same node count in every zone, as a
        GKE regional node pool does; node i gets 127.B.0.(i+1), its pods 127.B.(i+1).x."""
        if self.ip_block is None:
            raise UsageError("the lab's ip_block is chosen by `lab up`; set it before planning")
        per_zone = self.nodes // (self.zones * len(self.pools))
        pools = tuple(NodePool(p.name, tuple(self.zone_names), per_zone, PROVISIONING[p.kind])
                      for p in self.pools)
        return ClusterLayout(self.project, self.region, self.cluster, pools,
                             node_cidr=f"127.{self.ip_block}.0.0/24")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["pools"] = [asdict(p) for p in self.pools]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> LabConfig:
        pools = tuple(PoolConfig(**p) for p in data.get("pools", []))
        return cls(**{**data, "pools": pools})


class PodIPAllocator:
    """Hands out pod IPs of one node, reusing released ones; loopback only.

    Node 127.B.0.k owns 127.B.k.2-254 (k >= 1, so pods never share the nodes' /24).
    """

    def __init__(self, node_internal_ip: str) -> None:
        net = ipaddress.IPv4Network(pod_range(node_internal_ip))
        if not net.subnet_of(ipaddress.IPv4Network("127.0.0.0/8")):
            raise UsageError(f"pod network {net} is outside 127.0.0.0/8")
        self._free = [str(a) for a in list(net.hosts())[1:]]  # .1 stays unused, like a bridge
        self._used: set[str] = set()

    def allocate(self) -> str:
        if not self._free:
            raise UsageError("no pod IP left on this node (253 pods per node at most)")
        ip = self._free.pop(0)
        self._used.add(ip)
        return ip

    def reserve(self, ip: str) -> None:
        """Mark an IP taken (a pod that kept its IP across a labd restart)."""
        if ip in self._free:
            self._free.remove(ip)
            self._used.add(ip)

    def release(self, ip: str) -> None:
        if ip in self._used:
            self._used.discard(ip)
            self._free.append(ip)
