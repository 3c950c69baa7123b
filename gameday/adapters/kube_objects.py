"""Any Kubernetes object by apiVersion/kind/namespace/name: what provisioning reads and writes.

Why a separate module from kube.py: the typed calls there serve the faults (nodes, pods, leases);
provisioning handles manifests of any kind, including custom resources (BackendConfig), whose
REST path comes from API discovery (plural name, namespaced or not), cached per adapter. Writes
are server-side apply (`application/apply-patch+yaml`, one field manager), so a re-apply only
touches the fields the manifest names and never replaces an object wholesale (a replaced Service
would lose its clusterIP). All calls go through `KubeAdapter.request`: its auth and timeouts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from gameday.adapters.kube import KubeAdapter, KubeNotFound
from gameday.errors import UsageError

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"


@dataclass(frozen=True, order=True)
class ObjectRef:
    """Which object: enough to find it again after a crash (it goes into the ledger)."""

    api_version: str
    kind: str
    namespace: str  # "" for cluster-scoped kinds
    name: str

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> ObjectRef:
        meta = doc.get("metadata") or {}
        return cls(doc["apiVersion"], doc["kind"], meta.get("namespace") or "", meta["name"])

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> ObjectRef:
        return cls(data["api_version"], data["kind"], data["namespace"], data["name"])

    def to_dict(self) -> dict[str, str]:
        return {"api_version": self.api_version, "kind": self.kind,
                "namespace": self.namespace, "name": self.name}

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


class KubeObjects:
    """Generic get / server-side apply / merge patch / delete on one cluster."""

    def __init__(self, kube: KubeAdapter) -> None:
        self.kube = kube
        self._resources: dict[str, dict[str, tuple[str, bool]]] = {}

    @property
    def context(self) -> str:
        return self.kube.context

    def namespaced(self, api_version: str, kind: str) -> bool:
        return self._resource(api_version, kind)[1]

    def _resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) from discovery; UsageError naming the kind when not served."""
        if api_version not in self._resources:
            base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            try:
                doc = self.kube.request("GET", base)
            except KubeNotFound:
                doc = {"resources": []}
            self._resources[api_version] = {
                r["kind"]: (r["name"], bool(r.get("namespaced")))
                for r in doc.get("resources", []) if "/" not in r["name"]}
        found = self._resources[api_version].get(kind)
        if found is None:
            raise UsageError(f"the cluster ({self.context}) serves no {kind} in {api_version}: "
                             "check the manifest's apiVersion, or install its CRD first")
        return found

    def path(self, ref: ObjectRef, *, collection: bool = False) -> str:
        plural, namespaced = self._resource(ref.api_version, ref.kind)
        base = (f"/api/{ref.api_version}" if "/" not in ref.api_version
                else f"/apis/{ref.api_version}")
        if namespaced:
            if not ref.namespace:
                raise UsageError(f"{ref} has no namespace: set metadata.namespace or pass "
                                 "namespace= when provisioning")
            base += f"/namespaces/{quote(ref.namespace)}"
        base += f"/{plural}"
        return base if collection else f"{base}/{quote(ref.name)}"

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        try:
            return self.kube.request("GET", self.path(ref))
        except KubeNotFound:
            return None

    def apply(self, doc: Mapping[str, Any], manager: str) -> dict[str, Any]:
        """Server-side apply, forcing conflicts: the game day's state is what it declares."""
        ref = ObjectRef.of(doc)
        return self.kube.request("PATCH", self.path(ref), body=dict(doc), content_type=APPLY,
                                 query={"fieldManager": manager, "force": "true"})

    def merge_patch(self, ref: ObjectRef, body: Mapping[str, Any], manager: str) -> bool:
        """JSON merge patch (None deletes a key); False when the object is gone."""
        try:
            self.kube.request("PATCH", self.path(ref), body=dict(body), content_type=MERGE,
                              query={"fieldManager": manager})
        except KubeNotFound:
            return False
        return True

    def delete(self, ref: ObjectRef) -> bool:
        """Delete with background propagation (a Deployment's pods go too); False if gone."""
        try:
            self.kube.request("DELETE", self.path(ref),
                              body={"propagationPolicy": "Background"})
        except KubeNotFound:
            return False
        return True
