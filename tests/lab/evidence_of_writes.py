"""What the lab saw the harness write: the apiserver's audit log and the Compute operations.

Dry-run and bad-input tests assert "nothing was written" with these; lab components use their
own identities, so every write by `gameday-admin` (the lab kubeconfig's user) is the harness's.
"""

from __future__ import annotations

import json
import os

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1

from gameday.adapters.compute import parse_provider_id
from gameday.faults.base import Fault, Target
from gameday.faults.node_drain import NodeDrain
from gameday.faults.node_preemption import NodePreemption
from gameday.faults.selection import NodeSelector
from gameday.faults.zone_outage import ZoneOutage
from gameday.faults.zone_partition import RULE_PREFIX, ZonePartition
from tests.conftest import LabHandle

ADMIN = "gameday-admin"
WRITES = {"create", "update", "patch", "delete", "deletecollection"}
# subprocesses must never look for Google credentials off-box (metadata server, ADC)
NO_CLOUD = {**os.environ, "NO_GCE_CHECK": "True", "GCE_METADATA_HOST": "127.0.0.1:9",
            "GCE_METADATA_IP": "127.0.0.1:9"}


def audit_writes(lab: LabHandle, user: str = ADMIN) -> list[dict]:
    """Completed writes by `user`, in the order the apiserver logged them."""
    events = [json.loads(line) for line in
              (lab.state_dir / "audit.log").read_text().splitlines() if line.strip()]
    return [e for e in events if e["verb"] in WRITES and e["user"]["username"] == user
            and e["stage"] == "ResponseComplete"]


def gce_operations(lab: LabHandle) -> int:
    """Operations the Compute endpoint recorded, listed with the real client."""
    ops = compute_v1.ZoneOperationsClient(
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=lab.status["compute_endpoint"]),
        transport="rest")
    return sum(len(list(ops.list(project=lab.status["gce_project"], zone=zone, timeout=10)))
               for zone in lab.state.config.zone_names)


def dry_run_node_faults(target: Target, zone: str) -> None:
    """Dry-run every node-level fault on `zone`: each plans its calls, none is refused, and no
    ledger is opened. The caller checks the audit log (or the Compute operations) stayed put."""
    assert target.dry_run
    faults: list[Fault] = [ZoneOutage(target, zone=zone),
                           NodePreemption(target, selector=NodeSelector(zone=zone)),
                           NodeDrain(target, selector=NodeSelector(zone=zone))]
    if target.compute is not None:  # a partition is GCE-only: firewall rules and tags
        faults.append(ZonePartition(target, zone=zone))
    for fault in faults:
        with fault as result:
            assert result.dry_run and result.plan.calls and result.refused is None
    assert not target.ledger.path.exists()
    if target.compute is not None:  # global firewall rules and tags are not zone operations
        undo = faults[-1].plan().undo
        assert target.compute.firewall_names(undo["project"], RULE_PREFIX) == []
        for instance in undo["instances"]:
            tags = target.compute.network_tags(parse_provider_id(instance))
            assert tags is not None and undo["tag"] not in tags.items
