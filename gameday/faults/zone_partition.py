"""Zone partition: one zone's nodes keep running but lose the network, then get it back.

The failure chaos tools are asked for most and GCP gives no button for: the VMs and their pods
live on, the control plane cannot see them. GKE's node-lifecycle controller marks the nodes
NotReady after its grace period, taints them, evicts their pods after the toleration (300 s)
and the scheduler starts replacements elsewhere while the old pods still run: a split brain
(two copies of a singleton, a StatefulSet ordinal twice, stale caches) until the zone heals.

GCE mode (the only one so far), in VPC firewall terms:
- a network tag of this fault's own is added to every VM of the zone (`instances.setTags`);
- rules targeting that tag, above any rule of the cluster's (GKE's are priority 1000): DENY
  all INGRESS from 0.0.0.0/0 and DENY all EGRESS to 0.0.0.0/0 at priority 1, so the VMs reach
  neither the control plane nor the other zones, nor do they hear from them;
- with `keep_load_balancer` (the default), an ALLOW of INGRESS from the ranges Google's
  load-balancer health checks and front ends connect from (35.191.0.0/16, 130.211.0.0/22 for
  the global external Application Load Balancer a GKE Ingress makes; Cloud Load Balancing's
  "Firewall rules" page) at priority 0: the stale pods keep serving the Ingress. Without it the
  zone's backends fail their health checks too. Rules are stateful, so replies pass.
Rules first, then the tags (at once for the whole zone): the partition starts with the tags.
Revert takes the tag off every VM (the partition ends there), then deletes the rules; both are
idempotent, and a VM its MIG recreated meanwhile comes back without the tag.

Not covered: nodes that are not Compute Engine VMs (a NetworkPolicy-based pod-level partition
would be the k8s-only approximation: it is refused with a clear error rather than faked).
Safety: the zone must exist; the last zone with healthy nodes is refused unless
`allow_last_zone=True`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gameday.adapters.kube import NodeInfo
from gameday.errors import UsageError
from gameday.faults.base import Fault, FaultPlan, FaultResult, Target
from gameday.faults.selection import known_zones

if TYPE_CHECKING:
    from gameday.adapters.compute import ComputeAdapter, FirewallRule
    from gameday.adapters.kube import KubeAdapter

RULE_PREFIX = "gameday-partition-"
# Google Front End and health-check source ranges of the global external Application LB
GCLB_RANGES = ("35.191.0.0/16", "130.211.0.0/22")
ANYWHERE = ("0.0.0.0/0",)
ALLOW_PRIORITY, DENY_PRIORITY = 0, 1


def partition_rules(tag: str, network: str, *, keep_load_balancer: bool) -> list[FirewallRule]:
    """The rules of one partition, in insertion order (the allow before the denies)."""
    from gameday.adapters.compute import FirewallRule

    why = f"gameday zone partition: VMs tagged {tag} are cut off"
    denies = [FirewallRule(f"{tag}-deny-ingress", network, "INGRESS", DENY_PRIORITY, "deny",
                           ANYWHERE, (tag,), description=why),
              FirewallRule(f"{tag}-deny-egress", network, "EGRESS", DENY_PRIORITY, "deny",
                           ANYWHERE, (tag,), description=why)]
    if not keep_load_balancer:
        return denies
    return [FirewallRule(f"{tag}-allow-lb", network, "INGRESS", ALLOW_PRIORITY, "allow",
                         GCLB_RANGES, (tag,), description=why + " (load balancer kept)"),
            *denies]


class ZonePartition(Fault):
    kind = "zone_partition"

    def __init__(self, target: Target, *, zone: str, keep_load_balancer: bool = True,
                 allow_last_zone: bool = False) -> None:
        super().__init__(target)
        self.zone = zone
        self.keep_load_balancer = keep_load_balancer
        self.allow_last_zone = allow_last_zone
        self._cluster: list[NodeInfo] = []
        self._nodes: list[NodeInfo] = []
        self._rules: list[FirewallRule] = []

    def _make_plan(self) -> FaultPlan:
        kube, compute = self.target.kube, self.target.compute
        self._cluster = kube.list_nodes()
        zones = known_zones(self._cluster)
        if self.zone not in zones:
            raise UsageError(f"unknown zone {self.zone!r}: the cluster's nodes are in "
                             f"{', '.join(zones) or 'no labelled zone'}")
        if compute is None:
            raise UsageError("a zone partition needs Compute Engine (VPC firewall rules and "
                             "network tags): pass --gce-endpoint/--gce-project, or run on the "
                             "lab. For nodes that are not GCE VMs no partition mode exists yet")
        self._nodes = sorted((n for n in self._cluster if n.zone == self.zone),
                             key=lambda n: n.name)
        refs = [compute.instance_ref(n.provider_id or "") for n in self._nodes]
        projects = {r.project for r in refs}
        if len(projects) != 1:
            raise UsageError(f"zone {self.zone}'s nodes span projects {sorted(projects)}: "
                             "one zone partition must stay in one project")
        networks = {t.network for r in refs if (t := compute.network_tags(r)) is not None}
        if len(networks) != 1:
            raise UsageError(f"zone {self.zone}'s VMs sit in {len(networks)} VPC networks "
                             f"({', '.join(sorted(networks))}): firewall rules live in one")
        tag = f"{RULE_PREFIX}{uuid.uuid4().hex[:8]}"
        self._rules = partition_rules(tag, networks.pop(),
                                      keep_load_balancer=self.keep_load_balancer)
        undo = {"mode": "gce", "project": projects.pop(), "zone": self.zone, "tag": tag,
                "rules": [r.name for r in self._rules], "instances": [str(r) for r in refs]}
        calls = [f"POST global/firewalls {r.name}: {r.action.upper()} {r.direction} "
                 f"{'from' if r.direction == 'INGRESS' else 'to'} {','.join(r.ranges)} "
                 f"priority {r.priority}, target tag {tag}" for r in self._rules]
        calls += [f"POST {r}/setTags +{tag}" for r in refs]
        lb = "load balancer kept" if self.keep_load_balancer else "load balancer cut too"
        return FaultPlan(kind=self.kind, context=kube.context,
                         summary=f"partition zone {self.zone} from the control plane and the "
                                 f"other zones ({len(refs)} nodes, {lb})",
                         targets=tuple(f"node/{n.name}" for n in self._nodes),
                         calls=tuple(calls), undo=undo)

    def _check(self, plan: FaultPlan) -> None:
        self.target.safety.check_keeps_a_zone(self._nodes, self._cluster,
                                              allow_last_zone=self.allow_last_zone)

    def _apply(self, plan: FaultPlan, result: FaultResult) -> None:
        from gameday.adapters.compute import parse_provider_id

        compute = self.target.compute
        assert compute is not None, "_make_plan refuses a partition without Compute"
        undo = plan.undo
        for rule in self._rules:
            compute.insert_firewall(undo["project"], rule)
        self.emit("rules", f"firewall rules in place for tag {undo['tag']}",
                  rules=undo["rules"])
        changes = []
        for instance in undo["instances"]:
            ref = parse_provider_id(instance)
            tags = compute.network_tags(ref)
            assert tags is not None  # network_tags raises for a missing VM unless missing_ok
            changes.append((ref, [*tags.items, undo["tag"]], tags.fingerprint))
        compute.set_tags(changes)
        result.data.update(tag=undo["tag"], rules=undo["rules"])
        self.emit("partitioned", f"zone {self.zone}: {len(changes)} VMs tagged {undo['tag']}, "
                  "cut off from the control plane and the other zones",
                  instances=undo["instances"], tag=undo["tag"])

    @classmethod
    def undo(cls, undo: Mapping[str, Any], kube: KubeAdapter,
             compute: ComputeAdapter | None) -> list[str]:
        from gameday.adapters.compute import parse_provider_id

        if compute is None:
            raise UsageError("this zone partition changed Compute Engine firewall rules and "
                             "tags: reverting it needs Compute access (--gce-endpoint)")
        done, changes = [], []
        for instance in undo["instances"]:
            ref = parse_provider_id(instance)
            tags = compute.network_tags(ref, missing_ok=True)
            if tags is None:
                done.append(f"{instance} is gone: no tag to remove")
            elif undo["tag"] in tags.items:
                changes.append((ref, [t for t in tags.items if t != undo["tag"]],
                                tags.fingerprint))
                done.append(f"removed tag {undo['tag']} from {instance}")
        compute.set_tags(changes)  # the partition ends here, for the whole zone at once
        for name in undo["rules"]:
            deleted = compute.delete_firewall(undo["project"], name)
            done.append(f"deleted firewall rule {name}" if deleted
                        else f"firewall rule {name} was not there")
        return done
