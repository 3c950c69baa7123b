"""Cluster placement: the game day's load runs as Locust pods inside the target cluster.

Why: the client-side SLIs must land in the Prometheus that judges the game day, and on GKE
that Prometheus (Managed Prometheus or in-cluster) can scrape pods, not the CI runner. It also
lifts the one-machine ceiling on load: workers are pods.

Order of one run, each step bounded:
1. the ledger records every object name (from the run id alone) *before* the first create, so
   `gameday recover` deletes leftovers after a crash;
2. ConfigMap (the bundle), the scrape object if any, the master pod; once it has an IP, the
   worker pods pointed at it; all Running, every worker joined the master;
3. the harness starts the swarm through the apiserver's pod proxy (`POST /swarm`), waits for
   the first answered request, and from then on a keeper thread renews the master's lease
   (`POST /gameday/lease`: a harness that vanishes stops the load within the lease) and polls
   `/stats/requests` for the worker count: a worker lost mid-run is recorded with its time;
4. stop: `POST /stop`, read the final figures (`GET /gameday/result`), delete everything,
   wait until the pods are gone, mark the ledger record reverted.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gameday.errors import ConditionTimeout, LoadError
from gameday.load import manifests
from gameday.load.bundle import build_bundle
from gameday.load.manifests import Names, Placement
from gameday.load.spec import LoadSpec
from gameday.load.stats import LoadResult, read_result
from gameday.load.wrapper import LEASE_ROUTE

if TYPE_CHECKING:
    from gameday.adapters.kube import KubeAdapter
    from gameday.faults.ledger import Ledger

KIND = "load_cluster"  # the ledger record's kind
LEASE_S = 30.0  # the master stops the load this long after the harness's last renewal
KEEP_EVERY_S = 3.0
START_TIMEOUT_S = 180.0  # scheduling and pulling the image on a real cluster
GONE_TIMEOUT_S = 60.0
GUARD_GRACE_S = 30.0


class ClusterLoad:
    """One in-cluster Locust run with the interface GameDay uses of a runner-side LoadRun:
    start(), running, stop(), result(), lost_workers."""

    def __init__(self, spec: LoadSpec, out_dir: Path, *, kube: KubeAdapter, ledger: Ledger,
                 run_id: str, placement: Placement, monitor_version: str | None = None,
                 scrape_interval_s: float = 15.0, start_timeout_s: float = START_TIMEOUT_S,
                 margin_s: float | None = None,
                 progress: Callable[[str], None] | None = None) -> None:
        if placement.workers < 1:
            raise LoadError("cluster placement needs at least one worker pod (the master "
                            "sends no requests): set workers >= 1")
        self.spec = spec
        self.out_dir = Path(out_dir)
        self.kube = kube
        self.ledger = ledger
        self.run_id = run_id
        self.placement = placement
        self.names = Names(run_id)
        self.monitor_version = monitor_version
        self.scrape_interval_s = scrape_interval_s
        self.start_timeout_s = start_timeout_s
        self.lost_workers: list[tuple[float, int, int]] = []  # (when, lost, expected)
        self.master_ip: str | None = None
        self._progress = progress or (lambda message: None)
        self.margin_s = margin_s
        # the keeper renews the lease until then (see extend); inf: until stop()
        self._planned_end = math.inf
        self._record: str | None = None
        self._stop = threading.Event()
        self._swarming = threading.Event()  # set once requests flow: workers counted from then
        self._keeper: threading.Thread | None = None
        self._last_seen = 0.0
        self._prefix = self.out_dir / "load"

    # -- paths ------------------------------------------------------------------------------
    @property
    def _ns(self) -> str:
        return self.placement.namespace

    def _proxy(self, path: str) -> str:
        return (f"/api/v1/namespaces/{self._ns}/pods/{self.names.master}:"
                f"{manifests.WEB_PORT}/proxy/{path}")

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> ClusterLoad:
        """Create the pods, start the swarm, return once requests are answered. On any
        failure everything created is deleted again before the error propagates."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for name in ("load.json", "load_failures.json"):
            (self.out_dir / name).unlink(missing_ok=True)
        bundle = build_bundle(self.spec.locustfile, self.spec.shape)
        limit = self.spec.time_limit_s + GUARD_GRACE_S
        deadline = time.time() + limit
        active_s = math.ceil(limit + self.start_timeout_s)
        if self.spec.run_time_s is None and self.margin_s is not None:
            self._planned_end = time.time() + self.start_timeout_s + self.margin_s
        self._record = self.ledger.open(KIND, self.kube.context, self.undo_data())
        try:
            self.kube.request("POST", f"/api/v1/namespaces/{self._ns}/configmaps",
                              body=manifests.configmap(self.names, self._ns, bundle))
            if (obj := manifests.monitor(self.names, self.placement, self.monitor_version or
                                         "v1", self.scrape_interval_s)) is not None:
                self.kube.request("POST", _monitor_path(obj, self._ns), body=obj)
            self.kube.request("POST", f"/api/v1/namespaces/{self._ns}/pods",
                              body=manifests.master_pod(self.names, self.placement, bundle,
                                                        self._user_args(), deadline, active_s,
                                                        LEASE_S))
            self._keeper = threading.Thread(target=self._keep, name=f"load-{self.run_id}",
                                            daemon=True)
            self._keeper.start()  # the master's lease runs from its start: renew from now on
            self.master_ip = self._wait_running([self.names.master])[self.names.master]
            for i in range(self.placement.workers):
                self.kube.request("POST", f"/api/v1/namespaces/{self._ns}/pods",
                                  body=manifests.worker_pod(i, self.names, self.placement,
                                                            bundle, self.master_ip,
                                                            self._user_args(), deadline,
                                                            active_s))
            self._wait_running([self.names.worker(i) for i in range(self.placement.workers)])
            self._wait_for(lambda s: s.get("worker_count", 0) >= self.placement.workers,
                           f"{self.placement.workers} worker(s) to join the master")
            self._swarm()
            self._wait_for(lambda s: _requests(s) > 0, f"a first request to {self.spec.host}")
        except BaseException:
            self.stop()
            raise
        self._swarming.set()
        return self

    @property
    def running(self) -> bool:
        """The master answered within the last lease (a few missed polls are a slow proxy,
        not a dead load)."""
        return self._swarming.is_set() and time.monotonic() - self._last_seen < LEASE_S

    def extend(self, seconds: float) -> None:
        """The caller needs the load `seconds` more: renew the lease until then plus margin_s
        (the same rolling end as the runner's LoadRun.extend)."""
        if self.spec.run_time_s is None and self.margin_s is not None:
            self._planned_end = max(self._planned_end, time.time() + seconds + self.margin_s)

    def stop(self) -> None:
        """Stop the swarm, keep the final figures, delete every object; idempotent."""
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join(timeout=KEEP_EVERY_S + 10)
        if self._record is None:
            return
        if self.master_ip is not None:
            self._save_result()
        self.undo(self.undo_data(), self.kube, None)
        self._wait_gone()
        self.ledger.mark_reverted(self._record)
        self._record = None

    def result(self) -> LoadResult:
        if self._record is not None:
            raise LoadError(f"load run {self.run_id} is still running: stop() first")
        return read_result(self._prefix)

    def protected(self) -> dict[str, str]:
        """`node/NAME` and `pod/NAME` targets a fault must not take while this load runs,
        with what runs there (the load would die with them and judge nothing)."""
        if self._record is None:
            return {}
        out: dict[str, str] = {}
        for pod in self.kube.list_pods(self._ns, self.names.selector):
            out[f"pod/{pod.name}"] = f"load pod {pod.name}"
            if pod.node:
                out[f"node/{pod.node}"] = (out.get(f"node/{pod.node}", "load pod(s) ") +
                                           f"{pod.name} ")
        return {k: v.strip() for k, v in out.items()}

    # -- ledger -----------------------------------------------------------------------------
    def undo_data(self) -> dict[str, Any]:
        obj = manifests.monitor(self.names, self.placement, self.monitor_version or "v1", 1)
        return {"namespace": self._ns, "run_id": self.run_id,
                "monitor": _monitor_path(obj, self._ns) + "/" + obj["metadata"]["name"]
                if obj is not None else None}

    @classmethod
    def undo(cls, undo: Mapping[str, Any], kube: KubeAdapter, compute: Any) -> list[str]:
        """Delete the run's pods, ConfigMap and scrape object; idempotent (recover uses it)."""
        from gameday.adapters.kube import KubeNotFound

        names, ns, done = Names(undo["run_id"]), undo["namespace"], []
        for pod in kube.list_pods(ns, names.selector):
            if kube.delete_pod(ns, pod.name, grace_seconds=5):
                done.append(f"deleted load pod {ns}/{pod.name}")
        for path in (f"/api/v1/namespaces/{ns}/configmaps/{names.configmap}", undo["monitor"]):
            if path:
                try:
                    kube.request("DELETE", path)
                    done.append(f"deleted {path.split('/namespaces/', 1)[1]}")
                except KubeNotFound:
                    pass
        return done

    # -- internals --------------------------------------------------------------------------
    def _user_args(self) -> list[str]:
        return [f"--host={self.spec.host}", *self.spec.extra_args,
                *(self.spec.user_classes or [])]

    def _swarm(self) -> None:
        answer = self.kube.request("POST", self._proxy("swarm"), form={
            "user_count": str(self.spec.users), "spawn_rate": f"{self.spec.spawn_rate:g}",
            "host": self.spec.host})
        if not (answer or {}).get("success"):
            raise LoadError(f"Locust refused to start the swarm: {answer}")

    def stats(self) -> dict[str, Any]:
        """Locust's live `/stats/requests` through the pod proxy."""
        return self.kube.request("GET", self._proxy("stats/requests")) or {}

    def _wait_for(self, check: Any, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.start_timeout_s
        last: Any = "no answer yet"
        while time.monotonic() < deadline:
            self._check_pods_alive()
            try:
                stats = self.stats()
            except Exception as exc:  # the proxy answers 503 until Locust listens
                last = exc
            else:
                if check(stats):
                    return stats
                last = {k: stats.get(k) for k in ("state", "user_count", "worker_count")}
            time.sleep(0.5)
        raise ConditionTimeout(what, self.start_timeout_s, f"last seen: {last}")

    def _wait_running(self, names: list[str]) -> dict[str, str]:
        """Pod name -> IP once all run; a pod that fails or cannot be scheduled is an error
        naming why (image pull, unschedulable: usually the node selector or the zones)."""
        self._progress(f"waiting for {len(names)} load pod(s) to run")
        deadline = time.monotonic() + self.start_timeout_s
        seen: dict[str, Any] = {}
        while time.monotonic() < deadline:
            pods = {p["metadata"]["name"]: p for p in self._list()}
            seen = {n: pods.get(n, {}).get("status", {}) for n in names}
            bad = {n: s for n, s in seen.items() if s.get("phase") in ("Failed", "Succeeded")}
            if bad:
                raise LoadError(f"load pod(s) ended before the load started: {_why(bad)}")
            if all(s.get("phase") == "Running" and s.get("podIP") for s in seen.values()):
                return {n: s["podIP"] for n, s in seen.items()}
            time.sleep(0.5)
        raise ConditionTimeout(f"load pods {', '.join(names)} to run", self.start_timeout_s,
                               _why(seen))

    def _check_pods_alive(self) -> None:
        ended = {p["metadata"]["name"]: p.get("status", {}) for p in self._list()
                 if p.get("status", {}).get("phase") in ("Failed", "Succeeded")}
        if ended:
            raise LoadError(f"load pod(s) ended before the load started: {_why(ended)}")

    def _list(self) -> list[dict[str, Any]]:
        return self.kube.request("GET", f"/api/v1/namespaces/{self._ns}/pods",
                                 query={"labelSelector": self.names.selector})["items"]

    def _keep(self) -> None:
        """Renew the lease from the master's creation, and once the swarm runs watch the
        workers, until stop()."""
        expected = self.placement.workers
        while not self._stop.wait(KEEP_EVERY_S):
            try:
                if time.time() < self._planned_end:  # past it: a hung harness, let it lapse
                    self.kube.request("POST", self._proxy(LEASE_ROUTE.lstrip("/")))
                workers = int(self.stats().get("worker_count", 0))
            except Exception:  # not up yet, or a transient proxy error: `running` turns
                continue  # False only when the master stays unreachable for a whole lease
            self._last_seen = time.monotonic()
            if self._swarming.is_set() and workers < expected:
                self.lost_workers.append((time.time(), expected - workers, self.placement.workers))
                expected = workers

    def _save_result(self) -> None:
        try:
            self.kube.request("POST", self._proxy("stop"))
            result = self.kube.request("GET", self._proxy("gameday/result"))
        except Exception as exc:  # the figures are lost, the objects still go
            self._progress(f"could not read the load's final figures from the master: {exc}")
            return
        self._prefix.with_name("load.json").write_text(json.dumps(result["entries"]))
        self._prefix.with_name("load_failures.json").write_text(json.dumps(result["errors"]))

    def _wait_gone(self) -> None:
        deadline = time.monotonic() + GONE_TIMEOUT_S
        while self._list():
            if time.monotonic() > deadline:
                raise ConditionTimeout("the load pods to be deleted", GONE_TIMEOUT_S,
                                       ", ".join(p["metadata"]["name"] for p in self._list()))
            time.sleep(0.5)


def _monitor_path(obj: dict[str, Any], namespace: str) -> str:
    group_version = obj["apiVersion"]
    plural = next(p for g, p, k in manifests.MONITOR_APIS.values() if k == obj["kind"])
    return f"/apis/{group_version}/namespaces/{namespace}/{plural}"


def _requests(stats: dict[str, Any]) -> float:
    total = next((s for s in stats.get("stats", []) if s.get("name") == "Aggregated"), {})
    return float(total.get("num_requests", 0))


def _why(statuses: Mapping[str, Any]) -> str:
    """One line per pod: phase, and the reason a container waits or ended, or why it is not
    scheduled."""
    parts = []
    for name, status in statuses.items():
        reasons = [c.get("message") or c.get("reason") for c in status.get("conditions", [])
                   if c.get("status") == "False" and c.get("reason")]
        for c in status.get("containerStatuses", []):
            for state in (c.get("state") or {}).values():
                if state.get("reason"):
                    reasons.append(f"{state['reason']}: {state.get('message', '')}".strip(": "))
        parts.append(f"{name} {status.get('phase', 'not created')}"
                     + (f" ({'; '.join(r for r in reasons if r)})" if reasons else ""))
    return "; ".join(parts) or "no pods"
