"""The lab's VPC network: instance network tags and VPC firewall rules, and who may reach whom.

Why the lab models this: a zone *partition* (the VMs keep running, the network between them and
the rest is gone) is done on GCE with firewall rules aimed at a network tag; the lab must give
the same answer GCE would to "may this flow pass?", so what the fault does is what the cluster
sees. Evaluation follows VPC firewall semantics: a rule applies to a VM when it has no
targetTags or shares one with the VM; among the applicable rules matching a flow, the lowest
`priority` number wins and a deny beats an allow of the same priority; the source VM's EGRESS
rules and the destination VM's INGRESS rules must both let the flow through; traffic inside one
VM is never filtered. Rules are stateful in GCE (replies of an allowed connection pass), which
the lab gets for free by deciding per connection.

What is emulated, and why: the lab has no packets to filter (every address is loopback and it
runs without root), so the flows that matter are asked about where the lab makes them — a
hollow kubelet's requests to the apiserver (gameday.lab.hollow) — and a changed rule or tag
applies to them at once, established connections included. GCE's implied rules are "egress
allow all" and "ingress deny all"; a GKE cluster lives with the ingress rules GKE and
ingress-gce create (gke-CLUSTER-HASH-all/-vms/-master, k8s-fw-l7-...), so the lab implies those
instead: an ingress flow no rule matches is allowed.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gameday.lab.compute.errors import ComputeApiError, invalid, not_found
from gameday.lab.compute.layout import pod_range

DIRECTIONS = ("INGRESS", "EGRESS")
ANYWHERE = "0.0.0.0/0"
DEFAULT_PRIORITY = 1000
Listener = Callable[[], None]


def tags_fingerprint(items: Iterable[str], generation: int) -> str:
    """What GCE returns as `tags.fingerprint`: changes with every setTags."""
    return hashlib.sha256(f"{sorted(items)}/{generation}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Flow:
    """One connection attempt: who opens it, to which address and port."""

    src_ip: str
    dst_ip: str
    port: int
    protocol: str = "tcp"


@dataclass
class Rule:
    """A VPC firewall rule as stored; `body` is the JSON the API returns for it."""

    name: str
    direction: str
    priority: int
    deny: bool
    protocols: list[dict[str, Any]]  # [{"IPProtocol": "tcp", "ports": ["80", "8000-9000"]}]
    ranges: list[ipaddress.IPv4Network]  # sourceRanges (INGRESS) / destinationRanges (EGRESS)
    source_tags: list[str]
    target_tags: list[str]
    disabled: bool
    body: dict[str, Any] = field(repr=False)

    def applies_to(self, tags: Iterable[str]) -> bool:
        return not self.target_tags or bool(set(self.target_tags) & set(tags))

    def matches(self, flow: Flow, peer_ip: str, peer_tags: Iterable[str]) -> bool:
        """Does the flow fall under the rule? `peer` is the other end (source on INGRESS)."""
        if self.disabled or not _protocol_matches(self.protocols, flow):
            return False
        address = ipaddress.ip_address(peer_ip)
        if any(address in net for net in self.ranges):
            return True
        return bool(self.source_tags) and bool(set(self.source_tags) & set(peer_tags))


def _protocol_matches(protocols: list[dict[str, Any]], flow: Flow) -> bool:
    for entry in protocols:
        proto = str(entry.get("IPProtocol", "")).lower()
        if proto not in ("all", flow.protocol):
            continue
        ports = entry.get("ports") or []
        if not ports:
            return True
        for spec in ports:
            low, _, high = str(spec).partition("-")
            if int(low) <= flow.port <= int(high or low):
                return True
    return False


class VpcNetwork:
    """Rules by name, tags by instance name, and `blocked(flow)`: why a flow is denied.

    `addresses()` lists (instance name, InternalIP); an address belongs to an instance when it
    is its InternalIP or in its pod range (alias IPs), else it is outside the VPC (the control
    plane, Google's ranges). Every VM starts with `default_tags` (GKE's node tag). Listeners are
    called after every change, so the lab can apply it at once.
    """

    def __init__(self, project: str, addresses: Callable[[], Iterable[tuple[str, str]]],
                 default_tags: list[str]) -> None:
        self.project = project
        self._addresses = addresses
        self._default_tags = default_tags
        self.rules: dict[str, Rule] = {}
        self._tags: dict[str, tuple[list[str], int]] = {}  # instance -> (items, generation)
        self._listeners: list[Listener] = []

    # ----- tags

    def tags(self, instance: str) -> tuple[list[str], str]:
        """(items, fingerprint) of the instance's network tags."""
        items, generation = self._tags.get(instance, (self._default_tags, 0))
        return list(items), tags_fingerprint(items, generation)

    def set_tags(self, instance: str, items: list[str], fingerprint: str | None) -> None:
        """instances.setTags: refused with 412 unless `fingerprint` is the current one, as GCE
        does, so two writers cannot silently overwrite each other's tags."""
        current, current_print = self.tags(instance)
        if fingerprint != current_print:
            raise ComputeApiError(412, "conditionNotMet", "Supplied fingerprint does not match "
                                  f"current metadata fingerprint ({current_print}).")
        for tag in items:
            if not tag or len(tag) > 63 or not tag.replace("-", "").isalnum() or tag != tag.lower():
                raise invalid("tags.items", f"{tag!r} is not a lowercase RFC 1035 name")
        generation = self._tags.get(instance, (current, 0))[1] + 1
        self._tags[instance] = (list(dict.fromkeys(items)), generation)
        self._changed()

    # ----- firewall rules

    def insert(self, body: dict[str, Any]) -> Rule:
        """firewalls.insert: validate like GCE, store, apply."""
        name = body.get("name") or ""
        if not name:
            raise invalid("name", "a firewall rule needs a name")
        if name in self.rules:
            raise ComputeApiError(409, "alreadyExists", f"The resource 'projects/{self.project}"
                                  f"/global/firewalls/{name}' already exists")
        rule = _parse(self.project, body)
        self.rules[name] = rule
        self._changed()
        return rule

    def rule(self, name: str) -> Rule:
        try:
            return self.rules[name]
        except KeyError:
            raise not_found(f"projects/{self.project}/global/firewalls/{name}") from None

    def delete(self, name: str) -> Rule:
        rule = self.rule(name)
        del self.rules[name]
        self._changed()
        return rule

    # ----- evaluation

    def _owner(self, ip: str) -> str | None:
        address = ipaddress.ip_address(ip)
        for name, internal_ip in self._addresses():
            if ip == internal_ip or address in ipaddress.ip_network(pod_range(internal_ip)):
                return name
        return None

    def blocked(self, src_ip: str, dst_ip: str, port: int, protocol: str = "tcp") -> str | None:
        """None if a connection may pass, else which rule stops it and where."""
        flow = Flow(src_ip, dst_ip, port, protocol)
        src, dst = self._owner(flow.src_ip), self._owner(flow.dst_ip)
        if src is not None and src == dst:
            return None  # inside one VM: no firewall
        src_tags = self.tags(src)[0] if src else []
        if src is not None:
            rule = self._winner("EGRESS", src_tags, flow, flow.dst_ip, [])
            if rule is not None and rule.deny:
                return f"egress of {src} denied by firewall rule {rule.name}"
        if dst is not None:
            rule = self._winner("INGRESS", self.tags(dst)[0], flow, flow.src_ip, src_tags)
            if rule is not None and rule.deny:
                return f"ingress to {dst} denied by firewall rule {rule.name}"
        return None

    def _winner(self, direction: str, tags: list[str], flow: Flow, peer_ip: str,
                peer_tags: list[str]) -> Rule | None:
        hits = [r for r in self.rules.values() if r.direction == direction
                and r.applies_to(tags) and r.matches(flow, peer_ip, peer_tags)]
        return min(hits, key=lambda r: (r.priority, not r.deny), default=None)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()


def _parse(project: str, body: dict[str, Any]) -> Rule:
    direction = body.get("direction", "INGRESS")
    if direction not in DIRECTIONS:
        raise invalid("direction", f"{direction!r} is not INGRESS or EGRESS")
    allowed, denied = body.get("allowed") or [], body.get("denied") or []
    if bool(allowed) == bool(denied):
        raise invalid("allowed", "a firewall rule needs exactly one of allowed or denied")
    priority = int(body.get("priority", DEFAULT_PRIORITY))
    if not 0 <= priority <= 65535:
        raise invalid("priority", f"{priority} is not in 0-65535")
    key = "sourceRanges" if direction == "INGRESS" else "destinationRanges"
    if direction == "EGRESS" and (body.get("sourceRanges") or body.get("sourceTags")):
        raise invalid("sourceRanges", "an EGRESS rule takes destinationRanges, not sources")
    texts = body.get(key) or ([] if body.get("sourceTags") else [ANYWHERE])
    try:
        ranges = [ipaddress.IPv4Network(t) for t in texts]
    except ValueError as exc:
        raise invalid(key, str(exc)) from None
    network = body.get("network") or (f"https://www.googleapis.com/compute/v1/projects/"
                                      f"{project}/global/networks/default")
    stored = {**body, "kind": "compute#firewall", "direction": direction,
              "priority": priority, "network": network, key: [str(r) for r in ranges],
              "disabled": bool(body.get("disabled", False)),
              "id": str(int(hashlib.sha256(body["name"].encode()).hexdigest()[:15], 16)),
              "creationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000-00:00",
                                                 time.gmtime()),
              "selfLink": f"https://www.googleapis.com/compute/v1/projects/{project}/global/"
                          f"firewalls/{body['name']}"}
    return Rule(name=body["name"], direction=direction, priority=priority, deny=bool(denied),
                protocols=denied or allowed, ranges=ranges,
                source_tags=list(body.get("sourceTags") or []),
                target_tags=list(body.get("targetTags") or []),
                disabled=stored["disabled"], body=stored)
