"""`gameday lab status [--json]`: components, nodes by zone with readiness, pods per node."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections import defaultdict

from gameday.errors import LabError
from gameday.lab.pki import Pki
from gameday.lab.profiles import get_profile
from gameday.lab.state import LabState


def _get(state: LabState, path: str) -> dict:
    keys = Pki(state.dir / "pki")
    req = urllib.request.Request(state.apiserver_url + path,
                                 headers={"Authorization": f"Bearer {keys.token('admin')}"})
    ctx = ssl.create_default_context(cafile=str(keys.ca_cert))
    try:
        with urllib.request.urlopen(req, timeout=5, context=ctx) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise LabError(f"apiserver {state.apiserver_url} did not answer {path}: {exc}") from exc


def _ready(obj: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in obj.get("status", {}).get("conditions", []))


def node_rows(state: LabState) -> list[dict]:
    """One row per Node object: name, zone, pool, readiness, pods bound to it."""
    nodes = _get(state, "/api/v1/nodes")["items"]
    pods = _get(state, "/api/v1/pods")["items"]
    per_node: dict[str, list[dict]] = defaultdict(list)
    for pod in pods:
        if name := pod["spec"].get("nodeName"):
            per_node[name].append(pod)
    rows = []
    for node in nodes:
        labels = node["metadata"].get("labels", {})
        name = node["metadata"]["name"]
        rows.append({
            "name": name,
            "zone": labels.get("topology.kubernetes.io/zone", ""),
            "pool": labels.get("cloud.google.com/gke-nodepool", ""),
            "ready": _ready(node),
            "unschedulable": bool(node["spec"].get("unschedulable")),
            "internal_ip": next((a["address"] for a in node["status"].get("addresses", [])
                                 if a["type"] == "InternalIP"), ""),
            "pods": len(per_node[name]),
            "pods_ready": sum(1 for p in per_node[name] if _ready(p)),
        })
    return sorted(rows, key=lambda r: (r["zone"], r["name"]))


def deployment_ready(state: LabState, namespace: str, name: str) -> tuple[int, int]:
    """(ready replicas, desired replicas); (0, 0) while the Deployment does not exist yet."""
    try:
        dep = _get(state, f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
    except LabError:
        return 0, 0
    return dep.get("status", {}).get("readyReplicas", 0), dep["spec"].get("replicas", 1)


def status(state: LabState) -> dict:
    """The machine-readable description printed by `lab status --json`."""
    data = state.to_dict()
    data["components"] = {name: {"pid": rec.pid, "running": rec.alive(), "log": rec.log}
                          for name, rec in state.processes.items()}
    del data["processes"]
    data["profile"] = state.config.profile
    data["timings"] = {n: v for n, v, _ in get_profile(state.config.profile).describe()}
    try:
        data["nodes"] = node_rows(state)
    except LabError as exc:
        data["nodes"] = []
        data["error"] = str(exc)
    return data


def render(data: dict) -> str:
    """Human view: components, then nodes grouped by zone."""
    lines = [f"lab in {data['state_dir']} — profile {data['profile']}, "
             f"context {data['context']}", f"  kubeconfig  {data['kubeconfig']}"]
    for key in ("apiserver_url", "ingress_url", "prometheus_url", "compute_endpoint"):
        if key in data:
            lines.append(f"  {key:<18}{data[key]}")
    lines.append("components:")
    for name, comp in data["components"].items():
        mark = "running" if comp["running"] else "DOWN"
        lines.append(f"  {name:<24} {mark:<8} pid {comp['pid']}")
    if "error" in data:
        lines.append(f"nodes: unavailable — {data['error']}")
        return "\n".join(lines)
    by_zone: dict[str, list[dict]] = defaultdict(list)
    for row in data["nodes"]:
        by_zone[row["zone"]].append(row)
    ready = sum(1 for r in data["nodes"] if r["ready"])
    lines.append(f"nodes: {ready}/{len(data['nodes'])} Ready")
    for zone, rows in sorted(by_zone.items()):
        lines.append(f"  {zone}")
        for r in rows:
            flag = "Ready" if r["ready"] else "NotReady"
            if r["unschedulable"]:
                flag += ",SchedulingDisabled"
            lines.append(f"    {r['name']:<40} {flag:<28} pods {r['pods_ready']}/{r['pods']}"
                         f" ready  ({r['pool']}, {r['internal_ip']})")
    return "\n".join(lines)
