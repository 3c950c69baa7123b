"""Command lines of the real control plane: etcd, kube-apiserver, controller-manager, scheduler.

Only argv building lives here (pure, unit-testable); starting and waiting is `gameday.lab.up`.
The timing flags come from the profile, so the real node-lifecycle controller marks a silent
hollow node NotReady after the profile's grace period, exactly as on GKE.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gameday.lab.pki import Pki
from gameday.lab.profiles import Profile

SERVICE_CIDR = "127.96.0.0/16"  # loopback on purpose: no ClusterIP may ever leave the machine
SERVICE_IP = "127.96.0.1"

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  # leases and node status are the hollow kubelets' heartbeat: too chatty to keep
  - level: None
    resources: [{group: coordination.k8s.io, resources: [leases]}]
  - level: None
    verbs: [get, list, watch]
  - level: Metadata
"""


@dataclass(frozen=True)
class Ports:
    etcd: int
    etcd_peer: int
    apiserver: int


def etcd_argv(binary: Path, data_dir: Path, ports: Ports) -> list[str]:
    client = f"http://127.0.0.1:{ports.etcd}"
    peer = f"http://127.0.0.1:{ports.etcd_peer}"
    return [
        str(binary), "--name=lab", f"--data-dir={data_dir}",
        f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=lab={peer}", "--initial-cluster-state=new",
        "--quota-backend-bytes=2147483648", "--log-level=warn",
        "--unsafe-no-fsync",  # a lab's etcd holds nothing worth an fsync per write
    ]


def apiserver_argv(binary: Path, pki: Pki, ports: Ports, state_dir: Path,
                   profile: Profile) -> list[str]:
    audit_policy = state_dir / "audit-policy.yaml"
    audit_policy.write_text(AUDIT_POLICY)
    return [
        str(binary),
        f"--etcd-servers=http://127.0.0.1:{ports.etcd}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        f"--secure-port={ports.apiserver}", "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1", "--insecure-port=0",
        f"--tls-cert-file={pki.server_cert}", f"--tls-private-key-file={pki.server_key}",
        f"--client-ca-file={pki.ca_cert}",
        f"--token-auth-file={pki.tokens_csv}", "--authorization-mode=Node,RBAC",
        "--service-account-issuer=https://kubernetes.default.svc",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        f"--default-not-ready-toleration-seconds={int(profile.not_ready_toleration)}",
        f"--default-unreachable-toleration-seconds={int(profile.unreachable_toleration)}",
        # pods need no token volume here: no process in the lab talks to the apiserver from a pod
        "--disable-admission-plugins=ServiceAccount",
        f"--audit-policy-file={audit_policy}", f"--audit-log-path={state_dir / 'audit.log'}",
        "--audit-log-maxsize=100", "--audit-log-maxbackup=1",
        "--allow-privileged=true", "--endpoint-reconciler-type=none",
        "--enable-priority-and-fairness=false",
    ]


def controller_manager_argv(binary: Path, pki: Pki, profile: Profile) -> list[str]:
    return [
        str(binary),
        f"--kubeconfig={pki.kubeconfig('controller-manager')}", "--leader-elect=false",
        f"--service-account-private-key-file={pki.sa_key}", f"--root-ca-file={pki.ca_cert}",
        "--use-service-account-credentials=false",
        f"--node-monitor-grace-period={int(profile.node_monitor_grace_period)}s",
        f"--node-monitor-period={int(profile.node_monitor_period)}s",
        # Endpoints reject loopback addresses, so the Endpoints controller would only fail and
        # flood events; consumers read EndpointSlices, whose controller stays on
        "--secure-port=0", "--port=0", "--controllers=*,-endpoint",
        # the lab has no cloud controller: node routes and CIDRs are not ours to allocate
        "--allocate-node-cidrs=false", "--configure-cloud-routes=false",
        "--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
        "--concurrent-endpoint-syncs=10", "--concurrent-service-endpoint-syncs=10",
        "--kube-api-qps=100", "--kube-api-burst=200",
    ]


def scheduler_argv(binary: Path, pki: Pki) -> list[str]:
    return [
        str(binary), f"--kubeconfig={pki.kubeconfig('scheduler')}", "--leader-elect=false",
        "--secure-port=0", "--port=0", "--kube-api-qps=100", "--kube-api-burst=200",
    ]
