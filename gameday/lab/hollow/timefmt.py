"""Timestamps in the formats the Kubernetes API expects (RFC 3339; MicroTime for leases)."""

from __future__ import annotations

import datetime as dt


def now_iso() -> str:
    """metav1.Time: second precision, UTC, 'Z'."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    """metav1.MicroTime, used by Lease.spec.renewTime."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
