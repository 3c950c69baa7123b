"""GKE's BackendConfig (cloud.google.com/v1): which one a Service port uses, and what it changes.

A Service opts in with the annotation `cloud.google.com/backend-config` (or the older
`beta.cloud.google.com/backend-config`), either `{"default": "name"}` for every port or
`{"ports": {"80": "name", "http": "other"}}` keyed by port number or name; a per-port entry wins.
Only `spec.healthCheck` and `spec.timeoutSec` matter to this load balancer; every other field
(CDN, IAP, security policy ...) is accepted by the CRD and ignored here, as it has no effect on
a loopback lab. Pure functions over plain dicts, so they are tested without an apiserver.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from gameday.errors import UsageError
from gameday.lab.ingress.healthcheck import HealthCheckSettings

ANNOTATIONS = ("cloud.google.com/backend-config", "beta.cloud.google.com/backend-config")

# spec.healthCheck field -> HealthCheckSettings attribute
_HC_FIELDS = {
    "checkIntervalSec": "interval_s",
    "timeoutSec": "timeout_s",
    "healthyThreshold": "healthy_threshold",
    "unhealthyThreshold": "unhealthy_threshold",
    "requestPath": "request_path",
    "port": "port",
    "type": "type",
}


def backend_config_name(service: dict[str, Any], port_number: int, port_name: str) -> str | None:
    """Name of the BackendConfig a Service port refers to, or None.

    Raises UsageError when the annotation is not the JSON shape GKE accepts."""
    annotations = service.get("metadata", {}).get("annotations") or {}
    raw = next((annotations[a] for a in ANNOTATIONS if a in annotations), None)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise UsageError(
            f"annotation {ANNOTATIONS[0]}={raw!r} is not JSON: write "
            '\'{"default": "NAME"}\' or \'{"ports": {"80": "NAME"}}\''
        ) from exc
    if not isinstance(value, dict):
        raise UsageError(f"annotation {ANNOTATIONS[0]}={raw!r} must be a JSON object")
    ports = value.get("ports") or {}
    for key in (str(port_number), port_name):
        if key and key in ports:
            return str(ports[key])
    default = value.get("default")
    return None if default is None else str(default)


def apply_health_check(settings: HealthCheckSettings, backend_config: dict[str, Any],
                       origin: str) -> HealthCheckSettings:
    """Overlay `spec.healthCheck` on the settings; raises UsageError for invalid values."""
    spec = (backend_config.get("spec") or {}).get("healthCheck") or {}
    changes: dict[str, Any] = {}
    for field_name, attr in _HC_FIELDS.items():
        if spec.get(field_name) is not None:
            changes[attr] = spec[field_name]
    if not changes:
        return settings
    try:
        return replace(settings, **changes, source=f"BackendConfig {origin}")
    except TypeError as exc:
        raise UsageError(f"BackendConfig {origin}: bad spec.healthCheck {spec}: {exc}") from exc


def backend_timeout(backend_config: dict[str, Any] | None, default_s: float) -> float:
    """The backend service timeout (`spec.timeoutSec`, GCLB default 30 s)."""
    value = ((backend_config or {}).get("spec") or {}).get("timeoutSec")
    if value is None:
        return default_s
    if not isinstance(value, int | float) or value <= 0:
        raise UsageError(f"BackendConfig spec.timeoutSec must be a positive number, got {value!r}")
    return float(value)
