"""JSON bodies in the shape Compute Engine v1 returns, for the real client to parse.

Why so many fields: tools written against GCE read more than status — `metadata.created-by`
maps a VM to its MIG, `labels` to its GKE pool, `scheduling` tells Spot from standard,
`networkInterfaces[0].networkIP` is the node's InternalIP. Ids are decimal strings, times are
RFC 3339 with milliseconds, links are the public API's URLs (strings only: never fetched).
A preempted VM is, as on GCE, TERMINATED with a `compute.instances.preempted` operation; the
lab also says so in `statusMessage` so a person reading `instances.get` sees why.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from gameday.lab.compute.model import ComputeModel, Instance, Mig
from gameday.lab.compute.operations import GLOBAL, Operation

API = "https://www.googleapis.com/compute/v1"
Json = dict[str, Any]


def rfc3339(t: float | None) -> str | None:
    """GCE's timestamp format."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds")


def link(path: str) -> str:
    """Full self link of a resource path (projects/...)."""
    return f"{API}/{path}"


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _drop_none(body: Json) -> Json:
    return {k: v for k, v in body.items() if v is not None}


def project_number(project: str) -> str:
    """A stable fake project number (GCE puts it in metadata created-by)."""
    return str(int(hashlib.sha256(project.encode()).hexdigest()[:10], 16) % 10**12)


def instance(model: ComputeModel, inst: Instance) -> Json:
    """An `compute#instance`."""
    lay = model.layout
    zone_path = f"projects/{lay.project}/zones/{inst.zone}"
    pool = inst.pool
    spot = pool.provisioning == "SPOT"
    preemptible = pool.provisioning in ("SPOT", "PREEMPTIBLE")
    scheduling: Json = {
        "onHostMaintenance": "TERMINATE" if preemptible else "MIGRATE",
        "automaticRestart": not preemptible,
        "preemptible": preemptible,
        "provisioningModel": "SPOT" if spot else "STANDARD",
    }
    if spot:
        scheduling["instanceTerminationAction"] = "STOP"
    labels = {"goog-gke-node": "", "goog-k8s-cluster-name": lay.cluster,
              "goog-k8s-cluster-location": lay.region, "goog-k8s-node-pool-name": pool.name}
    created_by = (f"projects/{project_number(lay.project)}/zones/{inst.zone}"
                  f"/instanceGroupManagers/{inst.mig}")
    return _drop_none({
        "kind": "compute#instance",
        "id": str(inst.id),
        "creationTimestamp": rfc3339(inst.created),
        "name": inst.name,
        "tags": dict(zip(("items", "fingerprint"), model.network.tags(inst.name), strict=True)),
        "machineType": link(f"{zone_path}/machineTypes/{pool.machine_type}"),
        "status": inst.status,
        "statusMessage": "Instance was preempted." if inst.preempted else None,
        "zone": link(zone_path),
        "canIpForward": True,
        "networkInterfaces": [{
            "kind": "compute#networkInterface",
            "network": link(f"projects/{lay.project}/global/networks/default"),
            "subnetwork": link(f"projects/{lay.project}/regions/{lay.region}/subnetworks/default"),
            "networkIP": inst.internal_ip,
            "name": "nic0",
            "fingerprint": _fingerprint(inst.name, inst.internal_ip),
            "stackType": "IPV4_ONLY",
        }],
        "disks": [{
            "kind": "compute#attachedDisk", "type": "PERSISTENT", "mode": "READ_WRITE",
            "source": link(f"{zone_path}/disks/{inst.name}"), "deviceName": "persistent-disk-0",
            "index": 0, "boot": True, "autoDelete": True, "interface": "SCSI",
            "diskSizeGb": "100",
        }],
        "metadata": {"kind": "compute#metadata", "fingerprint": _fingerprint(inst.mig),
                     "items": [{"key": "cluster-name", "value": lay.cluster},
                               {"key": "cluster-location", "value": lay.region},
                               {"key": "created-by", "value": created_by}]},
        "selfLink": link(f"{zone_path}/instances/{inst.name}"),
        "scheduling": scheduling,
        "cpuPlatform": "Intel Broadwell",
        "labels": labels,
        "labelFingerprint": _fingerprint(sorted(labels.items())),
        "startRestricted": False,
        "deletionProtection": False,
        "fingerprint": _fingerprint(inst.id, inst.status),
        "lastStartTimestamp": rfc3339(inst.last_start),
        "lastStopTimestamp": rfc3339(inst.last_stop),
    })


def operation(model: ComputeModel, op: Operation) -> Json:
    """A `compute#operation`; a failed one carries `error` and the httpError* fields."""
    scope = "global" if op.zone == GLOBAL else f"zones/{op.zone}"
    zone_path = f"projects/{model.layout.project}/{scope}"
    body: Json = {
        "kind": "compute#operation",
        "id": str(op.id),
        "name": op.name,
        "zone": None if op.zone == GLOBAL else link(zone_path),
        "operationType": op.operation_type,
        "targetLink": link(op.target),
        "targetId": str(op.target_id),
        "status": op.status,
        "user": op.user,
        "progress": op.progress,
        "insertTime": rfc3339(op.insert_time),
        "startTime": rfc3339(op.start_time),
        "endTime": rfc3339(op.end_time),
        "selfLink": link(f"{zone_path}/operations/{op.name}"),
    }
    if op.error is not None:
        body["error"] = {"errors": [{"code": op.error.reason, "message": op.error.message}]}
        body["httpErrorStatusCode"] = op.error.status
        body["httpErrorMessage"] = op.error.message
    return _drop_none(body)


def mig(model: ComputeModel, group: Mig) -> Json:
    """A `compute#instanceGroupManager`, with its current actions counted from its members."""
    lay = model.layout
    planned = group.planned
    zone_path = f"projects/{lay.project}/zones/{planned.zone}"
    members = model.members(group)
    actions = {k: 0 for k in ("abandoning", "creating", "creatingWithoutRetries", "deleting",
                              "none", "recreating", "refreshing", "restarting", "resuming",
                              "starting", "stopping", "suspending", "verifying")}
    for inst in members:
        actions[inst.current_action.lower()] += 1
    template = link(f"projects/{lay.project}/global/instanceTemplates/{planned.base_instance_name}")
    stable = actions["none"] == len(planned.members) and all(
        i.status == "RUNNING" for i in members)
    return {
        "kind": "compute#instanceGroupManager",
        "id": str(group.id),
        "creationTimestamp": rfc3339(group.created),
        "name": planned.name,
        "zone": link(zone_path),
        "instanceTemplate": template,
        "versions": [{"instanceTemplate": template, "name": ""}],
        "instanceGroup": link(f"{zone_path}/instanceGroups/{planned.name}"),
        "baseInstanceName": planned.base_instance_name,
        "fingerprint": _fingerprint(planned.name, group.action_on_failure),
        "currentActions": actions,
        "status": {"isStable": stable, "versionTarget": {"isReached": True},
                   "stateful": {"hasStatefulConfig": False,
                                "perInstanceConfigs": {"allEffective": True}}},
        "targetSize": len(planned.members),
        "selfLink": link(f"{zone_path}/instanceGroupManagers/{planned.name}"),
        "updatePolicy": {"type": "OPPORTUNISTIC", "minimalAction": "REPLACE",
                         "maxSurge": {"fixed": 1, "calculated": 1},
                         "maxUnavailable": {"fixed": 1, "calculated": 1},
                         "replacementMethod": "SUBSTITUTE"},
        "instanceLifecyclePolicy": {"defaultActionOnFailure": group.action_on_failure,
                                    "forceUpdateOnRepair": "NO"},
        "listManagedInstancesResults": "PAGELESS",
    }


def managed_instance(model: ComputeModel, group: Mig, inst: Instance) -> Json:
    """One entry of listManagedInstances; no id/status while the VM is being recreated."""
    lay = model.layout
    template = link(f"projects/{lay.project}/global/instanceTemplates/"
                    f"{group.planned.base_instance_name}")
    body: Json = {
        "instance": link(model.path(inst.zone, "instances", inst.name)),
        "name": inst.name,
        "currentAction": inst.current_action,
        "version": {"instanceTemplate": template},
        "lastAttempt": {},
    }
    if inst.exists:
        body["id"] = str(inst.id)
        body["instanceStatus"] = inst.status
    return body


def zone(model: ComputeModel, name: str) -> Json:
    """A `compute#zone` in the lab's region."""
    lay = model.layout
    return {"kind": "compute#zone", "id": str(int(_fingerprint(name)[:8], 16)),
            "creationTimestamp": "1969-12-31T16:00:00.000-08:00", "name": name,
            "description": name, "status": "UP",
            "region": link(f"projects/{lay.project}/regions/{lay.region}"),
            "selfLink": link(f"projects/{lay.project}/zones/{name}"),
            "availableCpuPlatforms": ["Intel Broadwell"], "supportsPzs": False}


def region(model: ComputeModel) -> Json:
    """The `compute#region` the lab cluster lives in."""
    lay = model.layout
    return {"kind": "compute#region", "id": str(int(_fingerprint(lay.region)[:8], 16)),
            "creationTimestamp": "1969-12-31T16:00:00.000-08:00", "name": lay.region,
            "description": lay.region, "status": "UP", "quotas": [],
            "zones": [link(f"projects/{lay.project}/zones/{z}") for z in lay.zones],
            "selfLink": link(f"projects/{lay.project}/regions/{lay.region}"),
            "supportsPzs": False}


def error(status: int, reason: str, message: str) -> Json:
    """GCE's error body."""
    return {"error": {"code": status, "message": message,
                      "errors": [{"message": message, "domain": "global", "reason": reason}]}}
