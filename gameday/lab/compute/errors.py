"""Errors the lab's Compute Engine endpoint answers with, in GCE's own words and HTTP codes.

Why a class of ours: the model decides *what* is wrong (unknown instance, wrong state, bad
argument) and the HTTP layer only renders it as GCE's JSON error body, so the real client raises
the same `google.api_core.exceptions` type as it would against Google.
"""

from __future__ import annotations

from gameday.errors import LabError


class ComputeApiError(LabError):
    """A request the lab's Compute Engine refused; `status`/`reason` are GCE's."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status = status
        self.reason = reason
        self.message = message
        super().__init__(message)


def not_found(resource: str) -> ComputeApiError:
    """404 as GCE says it; `resource` is the path, e.g. projects/p/zones/z/instances/i."""
    return ComputeApiError(404, "notFound", f"The resource '{resource}' was not found")


def not_ready(resource: str, why: str) -> ComputeApiError:
    """400 for an action the instance's current state does not allow."""
    return ComputeApiError(400, "resourceNotReady",
                           f"The resource '{resource}' is not ready: {why}")


def invalid(field: str, why: str) -> ComputeApiError:
    """400 for a malformed or unsupported argument."""
    return ComputeApiError(400, "invalid", f"Invalid value for field '{field}': {why}")
