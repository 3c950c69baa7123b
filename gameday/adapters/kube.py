"""The one harness module that imports `kubernetes`: small typed calls the faults need.

Why raw JSON rather than the generated models: the client (v37) validates request bodies against
its newest models, but the harness must also talk to old servers (the lab is Kubernetes 1.20,
where Eviction is `policy/v1beta1` and BackendConfig may be `v1beta1`). Requests here go through
the client's own auth/TLS/serialisation (`param_serialize` + `call_api`) with plain dicts, and
what comes back is turned into the small frozen dataclasses below, never raw client models.

Every call carries `_request_timeout=(connect, read)`: a hung apiserver must not hang a game day.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as Urllib3Error

from gameday.adapters.kube_types import (
    ClusterEvent,
    DeploymentStatus,
    LeaseInfo,
    NodeInfo,
    PodInfo,
    Taint,
    event_info,
    label_selector,
    node_info,
    pod_info,
)
from gameday.errors import GamedayError, UsageError

DEFAULT_TIMEOUT = (5.0, 30.0)

_MERGE = "application/merge-patch+json"


class KubeApiError(GamedayError):
    """The apiserver refused a request; `status` is the HTTP code, `message` the server's."""

    def __init__(self, verb: str, path: str, status: int, message: str,
                 causes: tuple[str, ...] = ()) -> None:
        self.status = status
        self.message = message
        self.causes = causes
        super().__init__(f"{verb} {path}: HTTP {status}: {message}")


class KubeNotFound(KubeApiError):
    """404: the object (or the API serving it) does not exist."""


class KubeAdapter:
    """One cluster, one kubeconfig context. Cheap to build; holds one connection pool."""

    def __init__(self, kubeconfig: Path | str | None, context: str | None, *,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        try:
            contexts, active = k8s_config.list_kube_config_contexts(
                config_file=str(kubeconfig) if kubeconfig else None)
        except k8s_config.ConfigException as exc:
            raise UsageError(f"cannot read kubeconfig {kubeconfig}: {exc}") from exc
        names = [c["name"] for c in contexts]
        chosen = context or active["name"]
        if chosen not in names:
            raise UsageError(f"kubeconfig {kubeconfig} has no context {chosen!r}; "
                             f"known contexts: {', '.join(names)}")
        self.context = chosen
        self.timeout = timeout
        self._api = k8s_config.new_client_from_config(
            config_file=str(kubeconfig) if kubeconfig else None, context=chosen,
            persist_config=False)
        self._versions: dict[str, str | None] = {}

    def close(self) -> None:
        self._api.close()

    # -- transport --------------------------------------------------------------------------

    def request(self, method: str, path: str, *, query: Mapping[str, Any] | None = None,
                body: Any = None, form: Mapping[str, Any] | None = None,
                content_type: str | None = None) -> Any:
        """Any apiserver path with the adapter's auth and timeouts; the decoded JSON answer.

        For the objects gameday manages whole (the load's pods and ConfigMap, provisioned
        manifests: `content_type` picks a patch kind) and for the pod proxy
        (`/api/v1/namespaces/NS/pods/NAME:PORT/proxy/...`, a form POST with `form`)."""
        return self._call(method, path, query=query, body=body, form=form,
                          content_type=content_type)

    def _call(self, method: str, path: str, *, query: Mapping[str, Any] | None = None,
              body: Any = None, content_type: str | None = None,
              form: Mapping[str, Any] | None = None) -> Any:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        elif form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = self._api.param_serialize(
            method=method, resource_path=path, query_params=list((query or {}).items()),
            header_params=headers, body=body, auth_settings=["BearerToken"],
            post_params=list(form.items()) if form is not None else None)
        try:
            response = self._api.call_api(*request, _request_timeout=self.timeout)
            response.read()
        except ApiException as exc:  # TLS failures surface as ApiException(status 0)
            raise KubeApiError(method, path, exc.status or 0, str(exc.reason)) from exc
        except Urllib3Error as exc:  # refused, reset, timed out: the apiserver is unreachable
            raise KubeApiError(method, path, 0, f"apiserver unreachable: {exc}") from exc
        if not 200 <= response.status <= 299:
            raise self._error(method, path, response.status, response.data)
        return json.loads(response.data) if response.data else None

    @staticmethod
    def _error(method: str, path: str, status: int, data: bytes | None) -> KubeApiError:
        try:
            doc = json.loads(data or b"{}")
        except ValueError:
            doc = {"message": (data or b"").decode(errors="replace")[:300]}
        message = doc.get("message", "")
        causes = tuple(c.get("message", "") for c in (doc.get("details") or {}).get("causes", []))
        cls = KubeNotFound if status == 404 else KubeApiError
        return cls(method, path, status, message, causes)

    # -- discovery --------------------------------------------------------------------------

    def server_version(self) -> tuple[int, int]:
        """(major, minor) of the apiserver; GKE minors look like '27+', hence the strip."""
        doc = self._call("GET", "/version")
        return int(doc["major"]), int(str(doc["minor"]).rstrip("+"))

    def preferred_version(self, group: str) -> str | None:
        """The served preferred version of an API group, or None when the group is absent."""
        if group not in self._versions:
            try:
                doc = self._call("GET", f"/apis/{group}")
                self._versions[group] = doc["preferredVersion"]["version"]
            except KubeNotFound:
                self._versions[group] = None
        return self._versions[group]

    def eviction_version(self) -> str:
        """Which Eviction body the server takes: `policy/v1` from 1.22, else `policy/v1beta1`.

        Read from the `pods/eviction` subresource in /api/v1 discovery (what kubectl drain does),
        falling back to the policy group's preferred version on servers that omit it there.
        """
        if "eviction" not in self._versions:
            resources = self._call("GET", "/api/v1")["resources"]
            sub = next((r for r in resources if r["name"] == "pods/eviction"), None)
            if sub is None:
                raise KubeApiError("GET", "/api/v1", 404, "this server offers no Eviction API; "
                                   "drain by deleting pods instead")
            version = sub.get("version") or self.preferred_version("policy") or "v1beta1"
            self._versions["eviction"] = f"policy/{version}"
        return self._versions["eviction"]  # type: ignore[return-value]

    # -- nodes ------------------------------------------------------------------------------

    def list_nodes(self, label_selector: str | None = None) -> list[NodeInfo]:
        query = {"labelSelector": label_selector} if label_selector else None
        return [node_info(n) for n in self._call("GET", "/api/v1/nodes", query=query)["items"]]

    def get_node(self, name: str) -> NodeInfo | None:
        try:
            return node_info(self._call("GET", f"/api/v1/nodes/{quote(name)}"))
        except KubeNotFound:
            return None

    def set_unschedulable(self, name: str, unschedulable: bool) -> bool:
        """Cordon (True) or uncordon (False). False when the node no longer exists."""
        try:
            self._call("PATCH", f"/api/v1/nodes/{quote(name)}", content_type=_MERGE,
                       body={"spec": {"unschedulable": unschedulable or None}})
        except KubeNotFound:
            return False
        return True

    def add_taint(self, name: str, taint: Taint) -> bool:
        return self._edit_taints(name, lambda ts: [t for t in ts if not _same(t, taint)]
                                 + [taint.as_dict()])

    def remove_taint(self, name: str, taint: Taint) -> bool:
        return self._edit_taints(name, lambda ts: [t for t in ts if not _same(t, taint)])

    def _edit_taints(self, name: str, edit: Any, attempts: int = 5) -> bool:
        """Read-modify-write of spec.taints guarded by resourceVersion: the node-lifecycle
        controller edits taints too, and a blind list replace would drop its changes."""
        path = f"/api/v1/nodes/{quote(name)}"
        for _ in range(attempts):
            try:
                node = self._call("GET", path)
            except KubeNotFound:
                return False
            taints = node.get("spec", {}).get("taints") or []
            new = edit(taints)
            if new == taints:
                return True
            body = {"metadata": {"resourceVersion": node["metadata"]["resourceVersion"]},
                    "spec": {"taints": new or None}}
            try:
                self._call("PATCH", path, body=body, content_type=_MERGE)
                return True
            except KubeNotFound:
                return False
            except KubeApiError as exc:
                if exc.status != 409:
                    raise
        raise KubeApiError("PATCH", path, 409, f"taints kept changing under us ({attempts} tries)")

    def delete_node(self, name: str) -> bool:
        try:
            self._call("DELETE", f"/api/v1/nodes/{quote(name)}")
        except KubeNotFound:
            return False
        return True

    # -- leases (the cluster lock) -----------------------------------------------------------

    def _lease_path(self, namespace: str, name: str = "") -> str:
        base = f"/apis/coordination.k8s.io/v1/namespaces/{quote(namespace)}/leases"
        return f"{base}/{quote(name)}" if name else base

    def get_lease(self, namespace: str, name: str) -> LeaseInfo | None:
        try:
            doc = self._call("GET", self._lease_path(namespace, name))
        except KubeNotFound:
            return None
        meta = doc["metadata"]
        return LeaseInfo(meta["name"], (doc.get("spec") or {}).get("holderIdentity") or "",
                         meta.get("annotations") or {}, meta["resourceVersion"])

    def create_lease(self, namespace: str, name: str, holder: str,
                     annotations: Mapping[str, str], acquired: str) -> bool:
        """Create the Lease held by `holder`; False if it exists already (409: someone holds
        it), KubeNotFound if the namespace does not exist."""
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": namespace,
                             "labels": {"app.kubernetes.io/name": "gameday"},
                             "annotations": dict(annotations)},
                "spec": {"holderIdentity": holder, "acquireTime": acquired}}
        try:
            self._call("POST", self._lease_path(namespace), body=body)
        except KubeApiError as exc:
            if exc.status == 409:
                return False
            raise
        return True

    def delete_lease(self, namespace: str, name: str, resource_version: str) -> bool:
        """Delete only the version read (a Lease taken over meanwhile stays); False if gone."""
        body = {"preconditions": {"resourceVersion": resource_version}}
        try:
            self._call("DELETE", self._lease_path(namespace, name), body=body)
        except KubeNotFound:
            return False
        return True

    # -- pods -------------------------------------------------------------------------------

    def list_pods(self, namespace: str | None, label_selector: str | None = None,
                  node: str | None = None) -> list[PodInfo]:
        query: dict[str, str] = {}
        if label_selector:
            query["labelSelector"] = label_selector
        if node:
            query["fieldSelector"] = f"spec.nodeName={node}"
        path = f"/api/v1/namespaces/{quote(namespace)}/pods" if namespace else "/api/v1/pods"
        return [pod_info(p) for p in self._call("GET", path, query=query)["items"]]

    def delete_pod(self, namespace: str, name: str, grace_seconds: int | None = None) -> bool:
        """Delete; grace 0 is an abrupt kill (SIGKILL), None the pod's own grace period."""
        body = {"gracePeriodSeconds": grace_seconds} if grace_seconds is not None else None
        try:
            self._call("DELETE", f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(name)}",
                       body=body)
        except KubeNotFound:
            return False
        return True

    def evict_pod(self, namespace: str, name: str, grace_seconds: int | None = None) -> bool:
        """Eviction API (respects PodDisruptionBudgets). A 429 refusal raises KubeApiError with
        status 429; False when the pod is already gone."""
        body: dict[str, Any] = {"apiVersion": self.eviction_version(), "kind": "Eviction",
                                "metadata": {"name": name, "namespace": namespace}}
        if grace_seconds is not None:
            body["deleteOptions"] = {"gracePeriodSeconds": grace_seconds}
        try:
            self._call("POST", f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(name)}"
                       "/eviction", body=body)
        except KubeNotFound:
            return False
        return True

    def pdbs_matching(self, pod: PodInfo) -> list[str]:
        """Names of the PodDisruptionBudgets whose matchLabels select this pod."""
        version = self.preferred_version("policy")
        if version is None:
            return []
        doc = self._call("GET", f"/apis/policy/{version}/namespaces/{quote(pod.namespace)}"
                                "/poddisruptionbudgets")
        names = []
        for pdb in doc["items"]:
            match = (pdb.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
            if match and all(pod.labels.get(k) == v for k, v in match.items()):
                names.append(pdb["metadata"]["name"])
        return names

    def namespace_terminating(self, namespace: str) -> bool:
        """True while a namespace is being deleted (its pods go with it; eviction is refused)."""
        try:
            doc = self._call("GET", f"/api/v1/namespaces/{quote(namespace)}")
        except KubeNotFound:
            return True
        return (doc.get("status") or {}).get("phase") == "Terminating"

    def list_events(self) -> list[ClusterEvent]:
        """Every core/v1 Event the apiserver still keeps (1 h by default)."""
        return [event_info(e) for e in self._call("GET", "/api/v1/events")["items"]]

    # -- workloads --------------------------------------------------------------------------

    def deployment_status(self, namespace: str, name: str) -> DeploymentStatus:
        doc = self._call("GET", f"/apis/apps/v1/namespaces/{quote(namespace)}/deployments/"
                                f"{quote(name)}")
        status = doc.get("status", {})
        return DeploymentStatus(
            name=name, desired=int(doc["spec"].get("replicas", 1)),
            updated=int(status.get("updatedReplicas", 0)),
            ready=int(status.get("readyReplicas", 0)),
            available=int(status.get("availableReplicas", 0)),
            generation_observed=status.get("observedGeneration", 0)
            >= doc["metadata"].get("generation", 0),
            selector=label_selector(doc["spec"].get("selector") or {}),
        )

    def service_annotations(self, namespace: str, name: str) -> dict[str, str]:
        doc = self._call("GET", f"/api/v1/namespaces/{quote(namespace)}/services/{quote(name)}")
        return dict(doc["metadata"].get("annotations") or {})

    # -- BackendConfig (cloud.google.com) ---------------------------------------------------

    def _backend_config_path(self, namespace: str, name: str) -> str:
        version = self.preferred_version("cloud.google.com")
        if version is None:
            raise KubeNotFound("GET", "/apis/cloud.google.com", 404,
                               "BackendConfig CRD is not installed (GKE installs it; in the lab "
                               "`gameday lab up` does)")
        return (f"/apis/cloud.google.com/{version}/namespaces/{quote(namespace)}"
                f"/backendconfigs/{quote(name)}")

    def get_backend_config_spec(self, namespace: str, name: str) -> dict[str, Any]:
        return dict(self._call("GET", self._backend_config_path(namespace, name)).get("spec")
                    or {})

    def patch_backend_config_health_check(self, namespace: str, name: str,
                                          health_check: Mapping[str, Any] | None) -> None:
        """Replace spec.healthCheck wholesale (None removes it), via a JSON merge patch with
        the old keys nulled so no stale field survives a restore."""
        path = self._backend_config_path(namespace, name)
        current = (self._call("GET", path).get("spec") or {}).get("healthCheck") or {}
        new: dict[str, Any] = dict.fromkeys(current)
        new.update(health_check or {})
        self._call("PATCH", path, content_type=_MERGE,
                   body={"spec": {"healthCheck": new if health_check is not None else None}})


def _same(raw: Mapping[str, Any], taint: Taint) -> bool:
    return raw.get("key") == taint.key and raw.get("effect") == taint.effect
