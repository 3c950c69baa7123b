"""Keep credentials out of every report: the secrets a run knows of, and a scrubber for text.

Why a list of known secrets rather than pattern matching: the values that must never leak are
few and known at run time (Prometheus header values such as a GMP bearer token, the kubeconfig's
token or key, a service-account key's private parts), and replacing them verbatim catches them
wherever they surface — an error message, a URL, an environment row — with no false positives.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

REDACTED = "[redacted]"
_MIN_SECRET = 6  # shorter values ("Bearer", "true") would shred ordinary text
_KUBE_USER_SECRETS = ("token", "password", "client-key-data")
_GCE_KEY_SECRETS = ("private_key", "private_key_id", "client_secret", "refresh_token")


class Redactor:
    """Replaces every known secret in text (longest first, so a token inside a header value
    is caught as part of the whole value)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        found = {s.strip() for s in secrets if s and len(s.strip()) >= _MIN_SECRET}
        self.secrets = sorted(found, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, REDACTED)
        return value

    def data(self, value: Any) -> Any:
        """The same JSON-like structure with every string scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value


def header_rows(headers: Mapping[str, str]) -> dict[str, str]:
    """Environment rows for extra Prometheus headers: names only, values never shown."""
    return {f"prometheus header {name}": REDACTED for name in sorted(headers)}


def run_secrets(headers: Mapping[str, str], kubeconfig: Path | None) -> list[str]:
    """Every secret this run could leak: header values (and a bearer token on its own), the
    kubeconfig's user credentials, and the service-account key named by
    GOOGLE_APPLICATION_CREDENTIALS."""
    found: list[str] = []
    for value in headers.values():
        found.append(value)
        scheme, _, token = value.partition(" ")
        if token and scheme.lower() in ("bearer", "basic", "token"):
            found.append(token)
    found += kubeconfig_secrets(kubeconfig)
    found += gce_key_secrets(os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"))
    return found


def kubeconfig_secrets(path: Path | None) -> list[str]:
    """Tokens, passwords and client keys of every user in a kubeconfig (none if unreadable:
    a kubeconfig we cannot read is one whose secrets cannot reach a report through us)."""
    if path is None or not Path(path).is_file():
        return []
    try:
        doc = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return []
    found = []
    for entry in doc.get("users") or []:
        user = (entry or {}).get("user") or {}
        found += [str(user[k]) for k in _KUBE_USER_SECRETS if user.get(k)]
        token_file = user.get("tokenFile")
        if token_file and Path(token_file).is_file():
            found.append(Path(token_file).read_text().strip())
        provider = (user.get("auth-provider") or {}).get("config") or {}
        found += [str(v) for k, v in provider.items() if "token" in k or "secret" in k]
    return found


def gce_key_secrets(path: str | None) -> list[str]:
    """The private parts of a service-account (or authorized-user) JSON key file."""
    if not path or not Path(path).is_file():
        return []
    try:
        key = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return []
    return [str(key[k]) for k in _GCE_KEY_SECRETS if isinstance(key, dict) and key.get(k)]
