"""One hollow GKE node: registration, heartbeats (Lease + status), and the pods bound to it.

It behaves like a kubelet as seen from the apiserver: while powered on it renews its Lease and
posts node status; it runs the pods the scheduler binds to it; on a graceful shutdown it gives
pods GKE's preemption grace and marks them Failed; on an abrupt power loss it just goes silent,
and the real node-lifecycle controller has to notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import aiohttp

from gameday.lab.config import PodIPAllocator
from gameday.lab.hollow.host import NodeSpec
from gameday.lab.hollow.kuberest import KubeApiError
from gameday.lab.hollow.pods import NodeContext, PodRunner
from gameday.lab.hollow.timefmt import now_iso, now_micro
from gameday.lab.profiles import Profile

CAPACITY = {"cpu": "4", "memory": "16393460Ki", "pods": "110", "ephemeral-storage": "98831908Ki"}
ALLOCATABLE = {"cpu": "3920m", "memory": "13316340Ki", "pods": "110",
               "ephemeral-storage": "47093746742"}
SHUTDOWN_REASON = "Terminated"
SHUTDOWN_MESSAGE = "Pod was terminated in response to imminent node shutdown."


def node_labels(spec: NodeSpec) -> dict[str, str]:
    """The labels GKE puts on a node (the ones scenarios and PromQL select on)."""
    labels = {
        "kubernetes.io/hostname": spec.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": "e2-standard-4",
        "node.kubernetes.io/instance-type": "e2-standard-4",
        "topology.kubernetes.io/zone": spec.zone,
        "topology.kubernetes.io/region": spec.region,
        "failure-domain.beta.kubernetes.io/zone": spec.zone,
        "failure-domain.beta.kubernetes.io/region": spec.region,
        "cloud.google.com/gke-nodepool": spec.pool,
        "cloud.google.com/machine-family": "e2",
        "cloud.google.com/gke-os-distribution": "cos",
        "cloud.google.com/gke-boot-disk": "pd-balanced",
    }
    if spec.provisioning == "PREEMPTIBLE":
        labels["cloud.google.com/gke-preemptible"] = "true"
    elif spec.provisioning == "SPOT":
        labels["cloud.google.com/gke-spot"] = "true"
    return labels


def _critical(pod: dict) -> bool:
    return pod["spec"].get("priorityClassName") in ("system-node-critical",
                                                    "system-cluster-critical")


class HollowNode:
    """A kubelet without a container runtime; `powered` says whether its VM is running."""

    def __init__(self, spec: NodeSpec, ctx: NodeContext, profile: Profile) -> None:
        self.spec = spec
        self.ctx = ctx
        self.profile = profile
        self.powered = False
        self.boot_id = ""
        self.pods: dict[str, PodRunner] = {}
        self._ips = PodIPAllocator(spec.internal_ip)
        self._tasks: list[asyncio.Task] = []
        self._node_uid = ""
        self.last_heartbeat = 0.0
        self.shutting_down = False  # graceful shutdown in progress: NotReady, admits nothing
        self._ready_since = now_iso()

    @property
    def path(self) -> str:
        return f"/api/v1/nodes/{self.spec.name}"

    async def power_on(self, spec: NodeSpec) -> None:
        """Boot: new boot id, (re-)register, start heartbeats, adopt pods bound to this node."""
        self.spec = spec
        self.boot_id = str(uuid.uuid4())
        self.shutting_down = False
        self._ips = PodIPAllocator(spec.internal_ip)
        self._ready_since = now_iso()
        await self._register()
        self.powered = True
        await self._post_status()
        self._tasks = [asyncio.create_task(self._heartbeat(), name=f"lease {spec.name}"),
                       asyncio.create_task(self._status_loop(), name=f"status {spec.name}")]
        self.ctx.record("node.power_on", {"node": spec.name, "boot_id": self.boot_id,
                                          "instance_id": spec.instance_id})

    async def _register(self) -> None:
        body = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": self.spec.name, "labels": node_labels(self.spec),
                         "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                         "container.googleapis.com/instance_id":
                                             str(self.spec.instance_id)}},
            "spec": {"providerID":
                     f"gce://{self.spec.project}/{self.spec.zone}/{self.spec.name}"},
        }
        try:
            node = await self.ctx.kube.post("/api/v1/nodes", body)
        except KubeApiError as exc:
            if exc.status != 409:
                raise
            # same name after a MIG recreation: update in place, keep the Node object
            node = await self.ctx.kube.patch(self.path, {"metadata": body["metadata"]})
        self._node_uid = node["metadata"]["uid"]

    def _status(self) -> dict:
        now = now_iso()

        def cond(kind: str, status: str, reason: str, message: str) -> dict:
            return {"type": kind, "status": status, "reason": reason, "message": message,
                    "lastHeartbeatTime": now, "lastTransitionTime": self._ready_since}

        return {
            "capacity": CAPACITY, "allocatable": ALLOCATABLE,
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "ok"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "ok"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "ok"),
                cond("Ready", "False", "KubeletNotReady", "node is shutting down")
                if self.shutting_down else
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [{"type": "InternalIP", "address": self.spec.internal_ip},
                          {"type": "Hostname", "address": self.spec.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": self.spec.name, "systemUUID": str(self.spec.instance_id),
                "bootID": self.boot_id, "kernelVersion": "5.10.0-lab",
                "osImage": "Container-Optimized OS from Google",
                "containerRuntimeVersion": "containerd://1.4.3",
                "kubeletVersion": "v1.20.2-gke.lab", "kubeProxyVersion": "v1.20.2-gke.lab",
                "operatingSystem": "linux", "architecture": "amd64",
            },
        }

    async def _post_status(self) -> None:
        await self.ctx.kube.patch(self.path + "/status", {"status": self._status()})

    async def _heartbeat(self) -> None:
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.spec.name}"
        lease = {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": self.spec.name, "namespace": "kube-node-lease",
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node",
                                              "name": self.spec.name, "uid": self._node_uid}]},
            "spec": {"holderIdentity": self.spec.name,
                     "leaseDurationSeconds": int(self.profile.lease_duration)},
        }
        while self.powered:
            lease["spec"]["renewTime"] = now_micro()
            try:
                try:
                    await self.ctx.kube.patch(path, {"spec": lease["spec"]})
                except KubeApiError as exc:
                    if exc.status != 404:
                        raise
                    await self.ctx.kube.post(
                        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease)
                self.last_heartbeat = asyncio.get_running_loop().time()
            except (KubeApiError, aiohttp.ClientError, TimeoutError):
                pass  # a missed heartbeat is what a real kubelet would also suffer; retry
            await asyncio.sleep(self.profile.lease_renew_interval)

    async def _status_loop(self) -> None:
        while self.powered:
            await asyncio.sleep(self.profile.node_status_update)
            if self.powered:
                with contextlib.suppress(KubeApiError, aiohttp.ClientError, TimeoutError):
                    await self._post_status()

    async def on_pod(self, kind: str, pod: dict) -> None:
        """A watch event for a pod bound to this node."""
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        runner = self.pods.get(key)
        if runner is not None and runner.uid != pod["metadata"]["uid"]:
            await self._forget(key)  # same name, new pod (StatefulSet): start over
            runner = None
        if kind == "DELETED":
            if runner:
                runner.kill_now()
                await self._forget(key)
            return
        if runner is not None:
            runner.reconcile(pod)
        if not self.powered:
            return
        if pod["metadata"].get("deletionTimestamp"):
            if runner is None or not runner.terminating:
                self.ctx.spawn(self._delete_gracefully(key, pod, runner))
            return
        if runner is None and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
            if self.shutting_down:
                await self._reject(pod)
            else:
                await self._admit(key, pod)

    async def _reject(self, pod: dict) -> None:
        """A pod bound during graceful shutdown fails at once, as the kubelet does."""
        status = {"phase": "Failed", "reason": "NodeShutdown",
                  "message": "Pod was rejected as the node is shutting down.",
                  "hostIP": self.spec.internal_ip, "startTime": now_iso()}
        meta = pod["metadata"]
        with contextlib.suppress(KubeApiError, aiohttp.ClientError, TimeoutError):
            await self.ctx.kube.patch(
                f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status",
                {"status": status})

    async def _admit(self, key: str, pod: dict) -> None:
        old_ip = pod.get("status", {}).get("podIP")
        if old_ip and old_ip.rsplit(".", 1)[0] == self.spec.internal_ip.rsplit(".", 1)[0]:
            self._ips.reserve(old_ip)  # a pod adopted after reboot keeps its IP
            ip = old_ip
        else:
            ip = self._ips.allocate()
        runner = PodRunner(pod, ip, self.ctx)
        self.pods[key] = runner
        try:
            await runner.start()
        except (KubeApiError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.ctx.record("pod.start_failed", {"pod": key, "error": str(exc)})

    async def _delete_gracefully(self, key: str, pod: dict, runner: PodRunner | None) -> None:
        grace = pod["metadata"].get("deletionGracePeriodSeconds",
                                    pod["spec"].get("terminationGracePeriodSeconds", 30))
        if runner is not None:
            await runner.terminate(grace)
            await runner.finalize()
            await self._forget(key)
        else:
            await PodRunner(pod, "", self.ctx).finalize()

    async def _forget(self, key: str) -> None:
        runner = self.pods.pop(key, None)
        if runner is not None:
            runner.volumes.remove()
            if runner.ip:
                self._ips.release(runner.ip)

    async def power_off(self, graceful: bool) -> None:
        """Shut down: graceful gives pods GKE's 15 s + 15 s split; abrupt kills everything."""
        if not self.powered:
            return
        self.ctx.record("node.power_off", {"node": self.spec.name, "graceful": graceful})
        if graceful:
            self.shutting_down = True
            self._ready_since = now_iso()
            with contextlib.suppress(KubeApiError, aiohttp.ClientError, TimeoutError):
                await self._post_status()
            regular = [r for r in self.pods.values() if not _critical(r.pod)]
            critical = [r for r in self.pods.values() if _critical(r.pod)]
            for group, grace in ((regular, self.profile.preemption_pod_grace),
                                 (critical, self.profile.preemption_critical_pod_grace)):
                await asyncio.gather(*(r.terminate(min(grace, r.pod["spec"].get(
                    "terminationGracePeriodSeconds", 30)), "Failed", SHUTDOWN_REASON,
                    SHUTDOWN_MESSAGE) for r in group))
        self.powered = False
        for task in self._tasks:
            task.cancel()
        for runner in self.pods.values():
            runner.kill_now()
            runner.volumes.remove()  # re-admission after power-on sets them up again
        self.pods.clear()
        self.ctx.record("node.off", {"node": self.spec.name})

    async def remove(self) -> None:
        await self.power_off(graceful=False)
        with contextlib.suppress(KubeApiError):
            await self.ctx.kube.delete(self.path)
