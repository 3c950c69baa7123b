"""Series selectors as strings: check one, add matchers to one, scope one to a cluster.

Pure (no I/O), shared by the Prometheus adapter and the SLOs, so the one rule that scopes the
harness's queries to its cluster lives here and nowhere else.

Why Cloud Monitoring metrics are never scoped: through Managed Prometheus, a metric such as
`loadbalancing_googleapis_com:https_request_count` (a Google Cloud metric, named
`<domain with _>:<path with _>`) carries its monitored resource's labels (`project_id`,
`url_map_name`, ...), not GMP's `cluster`; a `cluster=` matcher would silently select nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gameday.errors import UsageError

_SELECTOR = re.compile(r"^\s*(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)?\s*(\{(?P<matchers>.*)\})?\s*$",
                       re.DOTALL)
CLOUD_MONITORING = re.compile(r"^[a-z0-9_]+_(com|io):")
"""A Google Cloud Monitoring metric as PromQL names it (kubernetes_io:..., *_googleapis_com:...)."""


def check_selector(what: str, selector: str) -> str:
    """The selector, stripped; UsageError if it is empty or not a plain series selector."""
    m = _SELECTOR.match(selector or "")
    if not selector or not selector.strip() or m is None or not (
            m.group("name") or (m.group("matchers") or "").strip()):
        raise UsageError(f"{what} must be a series selector like "
                         f"'http_requests_total{{job=\"web\"}}', got {selector!r}")
    return selector.strip()


def with_matchers(selector: str, matchers: str) -> str:
    """`metric{a="b"}` + `c=~"d"` -> `metric{a="b",c=~"d"}`."""
    m = _SELECTOR.match(selector)
    if m is None:
        raise UsageError(f"not a series selector: {selector!r}")
    inner = ",".join(p for p in ((m.group("matchers") or "").strip(), matchers.strip()) if p)
    return f"{m.group('name') or ''}{{{inner}}}"


def scoped(selector: str, scope: Mapping[str, str]) -> str:
    """`selector` with an equality matcher per `scope` label it does not match on already.

    Left alone: an empty scope, a Cloud Monitoring metric (see the module docstring), and a
    label the selector already names (the scenario chose, e.g. another cluster on purpose).
    """
    m = _SELECTOR.match(selector)
    if not scope or m is None or CLOUD_MONITORING.match(m.group("name") or ""):
        return selector
    inner = m.group("matchers") or ""
    named = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", inner))
    extra = ",".join(f'{k}="{_escape(v)}"' for k, v in scope.items() if k not in named)
    return with_matchers(selector, extra) if extra else selector


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def cluster_from_context(context: str | None) -> str | None:
    """The cluster name of a kube context named as `gcloud container clusters get-credentials`
    names it (`gke_PROJECT_LOCATION_CLUSTER`), else None."""
    parts = (context or "").split("_", 3)
    if len(parts) == 4 and parts[0] == "gke" and all(parts[1:]):
        return parts[3]
    return None
