"""The lab's credentials: a CA, the apiserver's serving cert, the service-account key, static
tokens per component, and the kubeconfigs that use them.

Static tokens (`--token-auth-file`) keep the lab simple and fast to start while still going
through real authentication and RBAC: each component gets its own identity, so a scenario can run
with a token bound to exactly `deploy/rbac.yaml` and see the refusals a GKE cluster would give.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

CONTEXT = "gameday-lab"

# identity name -> (user, groups). The harness identity has no group: RBAC decides.
IDENTITIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("gameday-admin", ("system:masters",)),
    "controller-manager": ("system:kube-controller-manager", ("system:masters",)),
    "scheduler": ("system:kube-scheduler", ()),
    "labd": ("gameday-labd", ("system:masters",)),
    "prometheus": ("gameday-prometheus", ("system:monitoring",)),
    "harness": ("gameday-harness", ()),
}


@dataclass(frozen=True)
class Pki:
    """Paths of everything generated into `<state>/pki`."""

    dir: Path

    @property
    def ca_cert(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def server_cert(self) -> Path:
        return self.dir / "apiserver.crt"

    @property
    def server_key(self) -> Path:
        return self.dir / "apiserver.key"

    @property
    def sa_key(self) -> Path:
        return self.dir / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.dir / "sa.pub"

    @property
    def tokens_csv(self) -> Path:
        return self.dir / "tokens.csv"

    def token(self, identity: str) -> str:
        return (self.dir / f"{identity}.token").read_text().strip()

    def token_file(self, identity: str) -> Path:
        return self.dir / f"{identity}.token"

    def kubeconfig(self, identity: str) -> Path:
        return self.dir / f"{identity}.kubeconfig"


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def generate(pki_dir: Path, service_ip: str = "127.96.0.1") -> Pki:
    """Create CA, serving cert, SA key pair and tokens; reuse them if present (idempotent)."""
    pki = Pki(pki_dir)
    if pki.tokens_csv.exists() and pki.server_cert.exists():
        return pki
    pki_dir.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gameday-lab-ca")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName(n) for n in ("localhost", "kubernetes", "kubernetes.default",
                                      "kubernetes.default.svc")]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", service_ip)]
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(pki.server_key, _pem_key(server_key))
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_private(pki.sa_key, _pem_key(sa_key))
    pki.sa_pub.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    rows = []
    for identity, (user, groups) in IDENTITIES.items():
        token = secrets.token_hex(24)
        _write_private(pki.token_file(identity), token.encode())
        rows.append(f'{token},{user},{user}' + (f',"{",".join(groups)}"' if groups else ""))
    _write_private(pki.tokens_csv, ("\n".join(rows) + "\n").encode())
    return pki


def write_kubeconfig(pki: Pki, identity: str, server: str, path: Path | None = None,
                     context: str = CONTEXT) -> Path:
    """A kubeconfig for one identity; the admin one is what users and the harness get."""
    path = path or pki.kubeconfig(identity)
    user = f"{context}-{identity}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {
            "server": server, "certificate-authority": str(pki.ca_cert)}}],
        "users": [{"name": user, "user": {"token": pki.token(identity)}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": user}}],
        "current-context": context,
    }
    _write_private(path, yaml.safe_dump(config, sort_keys=False).encode())
    return path
