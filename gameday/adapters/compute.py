"""The one harness module that imports `google.cloud`: Compute Engine calls the faults need.

The same code serves GKE (Application Default Credentials, the real endpoint) and the lab
(`api_endpoint="http://127.0.0.1:PORT"` + `AnonymousCredentials`): only the constructor's
arguments differ. Every call has a timeout, and every long-running operation is waited for with
a bound, because an operation that never finishes must fail the step, not hang the game day.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import requests
from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud import compute_v1

from gameday.errors import ConditionTimeout, FaultError, UsageError

# zoneOperations.wait returns once the operation is DONE or after about 2 minutes (GCE docs)
WAIT_BLOCK_S = 120.0

_PROVIDER_ID = re.compile(r"gce://(?P<project>[^/\s]+)/(?P<zone>[^/\s]+)/(?P<name>[^/\s]+)")
DO_NOTHING = "DO_NOTHING"
REPAIR = "REPAIR"


@dataclass(frozen=True)
class InstanceRef:
    """One VM, exactly as a GKE node's `spec.providerID` names it."""

    project: str
    zone: str
    name: str

    def __str__(self) -> str:
        return f"gce://{self.project}/{self.zone}/{self.name}"


def parse_provider_id(provider_id: str) -> InstanceRef:
    """Parse `gce://PROJECT/ZONE/INSTANCE` exactly (the whole string, three non-empty parts);
    anything else is a usage error, never a guess."""
    match = _PROVIDER_ID.fullmatch(provider_id or "")
    if match is None:
        raise UsageError(f"node providerID {provider_id!r} is not gce://PROJECT/ZONE/INSTANCE: "
                         "this node is not a Compute Engine VM; use the k8s-only mode")
    return InstanceRef(**match.groupdict())


@dataclass(frozen=True)
class InstanceInfo:
    ref: InstanceRef
    id: int  # changes when a MIG recreates the VM under the same name
    status: str  # RUNNING, STOPPING, TERMINATED, ...
    provisioning: str  # STANDARD, SPOT, or PREEMPTIBLE (legacy scheduling.preemptible)


@dataclass(frozen=True)
class NetworkTags:
    """A VM's network tags (what firewall rules target) and the fingerprint setTags needs."""

    items: tuple[str, ...]
    fingerprint: str
    network: str  # URL of the VPC network of its first interface (where its rules must live)


@dataclass(frozen=True)
class FirewallRule:
    """A VPC firewall rule, in the API's terms: one action on one protocol list."""

    name: str
    network: str
    direction: str  # INGRESS or EGRESS
    priority: int  # 0 (first) .. 65535
    action: str  # allow or deny
    ranges: tuple[str, ...]  # sourceRanges (INGRESS) or destinationRanges (EGRESS)
    target_tags: tuple[str, ...]
    protocol: str = "all"
    description: str = ""


@dataclass(frozen=True)
class MigInfo:
    project: str
    zone: str
    name: str
    default_action_on_failure: str  # REPAIR (the default) or DO_NOTHING
    instance_names: tuple[str, ...]


class ComputeAdapter:
    """Compute Engine for one set of credentials; project and zone come with each InstanceRef.

    `project` (`--gce-project`) is the project the run may act in: `instance_ref` refuses a
    node whose providerID names another, and `check_project` asks the API about it once, so
    a wrong project is one clear error before any fault rather than a call that goes
    wherever the providerID points."""

    def __init__(self, *, api_endpoint: str | None = None, project: str | None = None,
                 credentials: Credentials | None = None, timeout: float = 30.0,
                 operation_timeout: float = 300.0, wait_block: float = WAIT_BLOCK_S) -> None:
        self.project = project
        self.endpoint = api_endpoint or "compute.googleapis.com"
        if api_endpoint and credentials is None:
            credentials = AnonymousCredentials()  # an emulator: nothing to authenticate to
        options = ClientOptions(api_endpoint=api_endpoint) if api_endpoint else None
        kwargs: dict[str, Any] = {"credentials": credentials, "client_options": options}
        self.timeout = timeout
        self.operation_timeout = operation_timeout
        self.wait_block = wait_block
        self._instances = compute_v1.InstancesClient(**kwargs)
        self._migs = compute_v1.InstanceGroupManagersClient(**kwargs)
        self._operations = compute_v1.ZoneOperationsClient(**kwargs)
        self._zones = compute_v1.ZonesClient(**kwargs)
        self._firewalls = compute_v1.FirewallsClient(**kwargs)
        self._global_operations = compute_v1.GlobalOperationsClient(**kwargs)

    def check_project(self) -> None:
        """List the project's zones (the cheapest read every Compute viewer may make): an
        unknown project or one without access is a usage error naming `--gce-project`."""
        if self.project is None:
            return
        fix = ("pass the project of the cluster's node VMs (the gce://PROJECT/... in their "
               "providerID), or leave --gce-project out to take it from there")
        try:
            next(iter(self._zones.list(project=self.project, timeout=self.timeout)), None)
        except (gexc.NotFound, gexc.Forbidden, gexc.BadRequest) as exc:
            raise UsageError(f"--gce-project {self.project!r}: {self.endpoint} has no such "
                             f"project or refuses access ({exc.code}: {exc.message}); "
                             f"{fix}") from exc
        except (gexc.GoogleAPICallError, requests.RequestException) as exc:
            raise FaultError(f"cannot check --gce-project {self.project!r} at "
                             f"{self.endpoint}: {exc}") from exc

    def instance_ref(self, provider_id: str) -> InstanceRef:
        """The VM behind a node's providerID, in the run's project (a node of another project
        is refused: the run would act outside the project it was given)."""
        ref = parse_provider_id(provider_id)
        if self.project is not None and ref.project != self.project:
            raise UsageError(f"VM {ref} is in project {ref.project!r}, not in --gce-project "
                             f"{self.project!r}: point --kubeconfig/--kube-context at a "
                             f"cluster of {self.project!r}, or fix --gce-project")
        return ref

    def _wait(self, operation: Any, ref_project: str, zone: str | None, what: str) -> None:
        """Block on zoneOperations.wait (globalOperations.wait for zone None) until DONE,
        bounded by `operation_timeout`.

        Why not `ExtendedOperation.result()`: in google-cloud-compute 1.57 it polls through a
        ZoneOperationsClient built with the *default* endpoint, ignoring `api_endpoint`, so
        against an emulator it would poll compute.googleapis.com.
        """
        deadline = time.monotonic() + self.operation_timeout
        op = operation
        while op.status != compute_v1.Operation.Status.DONE:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConditionTimeout(f"Compute operation {what}", self.operation_timeout,
                                       f"{op.name} {op.status.name}")
            # the server holds a wait open until DONE or wait_block: the call must outlast it
            op = self._guard(f"wait for {what}", lambda o=op, t=left: (
                self._global_operations.wait(
                    project=ref_project, operation=o.name,
                    timeout=min(t, self.wait_block + self.timeout)) if zone is None
                else self._operations.wait(
                    project=ref_project, zone=zone, operation=o.name,
                    timeout=min(t, self.wait_block + self.timeout))))
        if op.error and op.error.errors:
            detail = "; ".join(f"{e.code}: {e.message}" for e in op.error.errors)
            raise FaultError(f"Compute operation {what} failed: {detail}")

    def _guard(self, what: str, call: Any) -> Any:
        try:
            return call()
        except gexc.NotFound as exc:
            raise FaultError(f"{what}: not found ({exc.message}); check the project/zone, or "
                             "whether the VM was deleted outside the game day") from exc
        except gexc.GoogleAPICallError as exc:
            raise FaultError(f"{what} failed: {exc}") from exc
        except requests.RequestException as exc:  # the REST transport's own timeouts/resets
            raise FaultError(f"{what}: the Compute Engine API did not answer ({exc}); check "
                             "--gce-endpoint and the network to it") from exc

    def get_instance(self, ref: InstanceRef) -> InstanceInfo:
        inst = self._guard(f"get {ref}", lambda: self._instances.get(
            project=ref.project, zone=ref.zone, instance=ref.name, timeout=self.timeout))
        sched = inst.scheduling
        provisioning = sched.provisioning_model or (
            "PREEMPTIBLE" if sched.preemptible else "STANDARD")
        return InstanceInfo(ref=ref, id=int(inst.id), status=inst.status,
                            provisioning=provisioning)

    def simulate_maintenance_event(self, ref: InstanceRef) -> None:
        """On a Spot/preemptible VM this is a preemption (GCE's documented way to test one)."""
        op = self._guard(f"simulateMaintenanceEvent {ref}",
                         lambda: self._instances.simulate_maintenance_event(
                             project=ref.project, zone=ref.zone, instance=ref.name,
                             timeout=self.timeout))
        self._wait(op, ref.project, ref.zone, f"simulateMaintenanceEvent {ref}")

    def stop_instances(self, refs: list[InstanceRef]) -> None:
        """Stop every VM at once, then wait for all: a zone goes down together, not one guest
        shutdown (up to 90 s on GCE) after another."""
        self._all("stop", self._instances.stop, refs)

    def start_instances(self, refs: list[InstanceRef]) -> None:
        """Start every VM at once, then wait for all (a boot takes ~40 s on GCE)."""
        self._all("start", self._instances.start, refs)

    def _all(self, verb: str, method: Any, refs: list[InstanceRef]) -> None:
        ops = [(ref, self._guard(f"{verb} {ref}", lambda r=ref: method(
            project=r.project, zone=r.zone, instance=r.name, timeout=self.timeout)))
            for ref in refs]
        for ref, op in ops:
            self._wait(op, ref.project, ref.zone, f"{verb} {ref}")

    def list_migs(self, project: str, zone: str) -> list[MigInfo]:
        """The zone's managed instance groups with their member instance names."""
        migs = self._guard(f"list MIGs in {project}/{zone}", lambda: list(self._migs.list(
            project=project, zone=zone, timeout=self.timeout)))
        out = []
        for mig in migs:
            members = self._guard(f"listManagedInstances {mig.name}", lambda m=mig: list(
                self._migs.list_managed_instances(project=project, zone=zone,
                                                  instance_group_manager=m.name,
                                                  timeout=self.timeout)))
            names = tuple(m.instance.rsplit("/", 1)[-1] for m in members)
            policy = mig.instance_lifecycle_policy.default_action_on_failure or REPAIR
            out.append(MigInfo(project, zone, mig.name, policy, names))
        return out

    def set_mig_failure_action(self, project: str, zone: str, mig: str, action: str) -> None:
        """DO_NOTHING keeps stopped members down (a held zone outage); REPAIR restores GKE's
        default of recreating them."""
        resource = compute_v1.InstanceGroupManager(
            instance_lifecycle_policy=compute_v1.InstanceGroupManagerInstanceLifecyclePolicy(
                default_action_on_failure=action))
        op = self._guard(f"patch MIG {mig}", lambda: self._migs.patch(
            project=project, zone=zone, instance_group_manager=mig,
            instance_group_manager_resource=resource, timeout=self.timeout))
        self._wait(op, project, zone,
                   f"patch MIG {project}/{zone}/{mig} defaultActionOnFailure={action}")

    # ----- network: tags and VPC firewall rules (a zone partition)

    def network_tags(self, ref: InstanceRef, *, missing_ok: bool = False) -> NetworkTags | None:
        """The VM's tags; None for a VM that no longer exists when `missing_ok`."""
        try:
            inst = self._instances.get(project=ref.project, zone=ref.zone, instance=ref.name,
                                       timeout=self.timeout)
        except gexc.NotFound:
            if missing_ok:
                return None
            raise FaultError(f"get {ref}: not found; check the project/zone, or whether the "
                             "VM was deleted outside the game day") from None
        except (gexc.GoogleAPICallError, requests.RequestException) as exc:
            raise FaultError(f"get {ref} failed: {exc}") from exc
        network = inst.network_interfaces[0].network if inst.network_interfaces else ""
        return NetworkTags(tuple(inst.tags.items), inst.tags.fingerprint, network)

    def set_tags(self, changes: list[tuple[InstanceRef, list[str], str]]) -> None:
        """instances.setTags on every (VM, new items, fingerprint read before) at once, then
        wait for all: the VMs of a zone change together. A stale fingerprint fails (412)."""
        ops = [(ref, self._guard(f"setTags {ref}", lambda r=ref, i=items, f=fp: (
            self._instances.set_tags(project=r.project, zone=r.zone, instance=r.name,
                                     tags_resource=compute_v1.Tags(items=i, fingerprint=f),
                                     timeout=self.timeout))))
            for ref, items, fp in changes]
        for ref, op in ops:
            self._wait(op, ref.project, ref.zone, f"setTags {ref}")

    def insert_firewall(self, project: str, rule: FirewallRule) -> None:
        ranges = list(rule.ranges)
        protocols = [{"I_p_protocol": rule.protocol}]
        resource = compute_v1.Firewall(
            name=rule.name, network=rule.network, direction=rule.direction,
            priority=rule.priority, target_tags=list(rule.target_tags),
            description=rule.description,
            **({"source_ranges": ranges} if rule.direction == "INGRESS"
               else {"destination_ranges": ranges}),
            **({"allowed": protocols} if rule.action == "allow" else {"denied": protocols}))
        op = self._guard(f"insert firewall rule {rule.name}", lambda: self._firewalls.insert(
            project=project, firewall_resource=resource, timeout=self.timeout))
        self._wait(op, project, None, f"insert firewall rule {rule.name}")

    def delete_firewall(self, project: str, name: str) -> bool:
        """Delete the rule; False if it was not there (a revert after a partial inject)."""
        try:
            op = self._firewalls.delete(project=project, firewall=name, timeout=self.timeout)
        except gexc.NotFound:
            return False
        except (gexc.GoogleAPICallError, requests.RequestException) as exc:
            raise FaultError(f"delete firewall rule {name} failed: {exc}") from exc
        self._wait(op, project, None, f"delete firewall rule {name}")
        return True

    def firewall_names(self, project: str, prefix: str) -> list[str]:
        """Names of the project's firewall rules starting with `prefix`."""
        rules = self._guard(f"list firewall rules of {project}", lambda: list(
            self._firewalls.list(project=project, timeout=self.timeout)))
        return sorted(r.name for r in rules if r.name.startswith(prefix))
