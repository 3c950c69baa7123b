"""One pod on a hollow node: its containers as real processes (lab images) or simulated ones,
their probes, restarts, graceful termination, and the pod status a kubelet would post.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from gameday.lab.hollow.images import program_for
from gameday.lab.hollow.kuberest import KubeApiError, KubeRest
from gameday.lab.hollow.probes import ProbeSpec, ProbeState, run_probe
from gameday.lab.hollow.timefmt import now_iso

TICK_S = 0.1
LAB_ENV_MARKER = "GAMEDAY_LAB_STATE"  # lets `lab down` find pod processes orphaned by a crash
MAX_BACKOFF_S = 10.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Pod processes must not outlive labd, even after a SIGKILL of labd."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.setsid()


@dataclass
class NodeContext:
    """What a pod needs from its node; shared by every pod of that node."""

    name: str
    ip: str
    kube: KubeRest
    http: aiohttp.ClientSession
    log_dir: Path
    record: Callable[[str, dict], None]  # ground-truth events for tests and reports
    spawn: Callable[[Coroutine[Any, Any, None]], None]  # background work the fleet keeps alive


@dataclass
class Container:
    spec: dict
    argv: list[str] | None  # None: simulated image
    env: dict[str, str]
    readiness: ProbeState | None = None
    liveness: ProbeState | None = None
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: str = ""
    restart_at: float = 0.0
    exit_code: int | None = None
    last_state: dict = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        if self.argv is not None and (self.proc is None or self.proc.returncode is not None):
            return False
        return self.readiness.ok if self.readiness else True


def _env(spec: dict, pod: dict, pod_ip: str, node: NodeContext) -> dict[str, str]:
    fields = {"status.podIP": pod_ip, "metadata.name": pod["metadata"]["name"],
              "metadata.namespace": pod["metadata"]["namespace"], "spec.nodeName": node.name,
              "status.hostIP": node.ip}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GAMEDAY_POD_IP": pod_ip,
           LAB_ENV_MARKER: os.environ.get(LAB_ENV_MARKER, ""),
           "GAMEDAY_POD_NAME": pod["metadata"]["name"], "GAMEDAY_NODE_NAME": node.name,
           "GAMEDAY_POD_NAMESPACE": pod["metadata"]["namespace"],
           "GAMEDAY_PORTS": ",".join(str(p["containerPort"]) for p in spec.get("ports", []))}
    for item in spec.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif (ref := item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")) in fields:
            env[item["name"]] = fields[ref]
    return env


class PodRunner:
    """Runs one pod until it is terminated; posts status whenever something visible changes."""

    def __init__(self, pod: dict, pod_ip: str, node: NodeContext) -> None:
        self.pod = pod
        self.ip = pod_ip
        self.node = node
        meta = pod["metadata"]
        self.key = f"{meta['namespace']}/{meta['name']}"
        self.uid = meta["uid"]
        self.restart_policy = pod["spec"].get("restartPolicy", "Always")
        self.containers = [self._container(c) for c in pod["spec"]["containers"]]
        self.start_time = pod.get("status", {}).get("startTime") or now_iso()
        self.phase = "Running"
        self.terminating = False
        self._task: asyncio.Task | None = None
        self._posted: dict | None = None
        self._recorded_ready = False
        self._transitions: dict[str, tuple[str, str]] = {}

    def _container(self, spec: dict) -> Container:
        prog = program_for(spec.get("image", ""))
        argv = [*prog, *spec.get("args", [])] if prog else None
        return Container(spec, argv, _env(spec, self.pod, self.ip, self.node))

    @property
    def path(self) -> str:
        meta = self.pod["metadata"]
        return f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"

    async def start(self) -> None:
        for c in self.containers:
            await self._start_container(c)
        await self.post_status()
        self._task = asyncio.create_task(self._run(), name=f"pod {self.key}")

    async def _start_container(self, c: Container) -> None:
        now = time.monotonic()
        ports = {p["name"]: p["containerPort"] for p in c.spec.get("ports", []) if "name" in p}
        if probe := c.spec.get("readinessProbe"):
            c.readiness = ProbeState(ProbeSpec.from_api(probe, ports), now, initially=False)
        if probe := c.spec.get("livenessProbe"):
            c.liveness = ProbeState(ProbeSpec.from_api(probe, ports), now, initially=True)
        c.started_at = now_iso()
        c.exit_code = None
        if c.argv is None:
            return
        log = self.node.log_dir / f"{self.key.replace('/', '_')}_{c.spec['name']}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            c.proc = await asyncio.create_subprocess_exec(
                *c.argv, env=c.env, stdout=out, stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL, preexec_fn=_die_with_parent)

    async def _run(self) -> None:
        """Probe, watch processes, restart on failure, post status on change."""
        while not self.terminating:
            now = time.monotonic()
            for c in self.containers:
                await self._check(c, now)
            if all(c.exit_code is not None for c in self.containers) and self.phase != "Running":
                await self.post_status_quietly()
                return
            await self.post_status_quietly()
            await asyncio.sleep(TICK_S)

    async def _check(self, c: Container, now: float) -> None:
        if c.proc is not None and c.proc.returncode is not None and c.exit_code is None:
            c.exit_code = c.proc.returncode
            c.last_state = {"terminated": {"exitCode": c.exit_code, "reason": "Error" if
                                           c.exit_code else "Completed",
                                           "startedAt": c.started_at, "finishedAt": now_iso()}}
            self.node.record("container.exited", {"pod": self.key, "code": c.exit_code})
            if self.restart_policy == "Always" or (self.restart_policy == "OnFailure"
                                                   and c.exit_code != 0):
                c.restart_at = now + min(MAX_BACKOFF_S, 2 ** min(c.restarts, 4) * 0.5)
            else:
                self.phase = "Failed" if c.exit_code else "Succeeded"
        if c.exit_code is not None and c.restart_at and now >= c.restart_at:
            c.restart_at = 0.0
            c.restarts += 1
            await self._start_container(c)
            return
        if c.exit_code is not None or self.terminating:
            return
        for probe, is_liveness in ((c.readiness, False), (c.liveness, True)):
            if probe is None or not probe.due(now):
                continue
            ok = c.argv is None or await run_probe(probe.spec, self.ip, self.node.http)
            if probe.record(ok, time.monotonic()) and is_liveness and not probe.ok:
                await self._restart_unhealthy(c)
                return

    async def _restart_unhealthy(self, c: Container) -> None:
        """Liveness failed: kill the container with its grace period and start it again."""
        self.node.record("container.liveness_failed", {"pod": self.key})
        grace = self.pod["spec"].get("terminationGracePeriodSeconds", 30)
        await self._stop_container(c, grace)
        c.last_state = {"terminated": {"exitCode": 137, "reason": "Error",
                                       "startedAt": c.started_at, "finishedAt": now_iso()}}
        c.restarts += 1
        await self._start_container(c)

    async def _stop_container(self, c: Container, grace_s: float) -> None:
        proc = c.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await asyncio.wait_for(proc.wait(), 5)

    async def terminate(self, grace_s: float, phase: str | None = None, reason: str = "",
                        message: str = "") -> None:
        """Graceful stop: SIGTERM, wait up to grace, SIGKILL. `phase` marks shutdown pods Failed."""
        self.terminating = True
        if self._task:
            self._task.cancel()
        await asyncio.gather(*(self._stop_container(c, grace_s) for c in self.containers))
        for c in self.containers:
            c.exit_code = c.proc.returncode if c.proc else 0
        if phase:
            self.phase = phase
            with contextlib.suppress(KubeApiError, aiohttp.ClientError, TimeoutError):
                await self.post_status(reason=reason, message=message)

    def kill_now(self) -> None:
        """Abrupt power loss: every process dies, nothing is told to the apiserver."""
        self.terminating = True
        if self._task:
            self._task.cancel()
        for c in self.containers:
            if c.proc is not None and c.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(c.proc.pid, signal.SIGKILL)

    async def finalize(self) -> None:
        """The kubelet's last word on a deleted pod: delete it for good (grace 0, same uid)."""
        body = {"gracePeriodSeconds": 0, "preconditions": {"uid": self.uid}}
        with contextlib.suppress(KubeApiError):
            await self.node.kube.delete(self.path, body)

    def _condition(self, kind: str, status: bool) -> dict:
        value = "True" if status else "False"
        old = self._transitions.get(kind)
        if old is None or old[0] != value:
            self._transitions[kind] = (value, now_iso())
        return {"type": kind, "status": value,
                "lastTransitionTime": self._transitions[kind][1], "lastProbeTime": None}

    def status(self, reason: str = "", message: str = "") -> dict:
        ready = self.phase == "Running" and all(c.ready for c in self.containers)
        statuses = []
        for c in self.containers:
            if c.exit_code is None:
                state = {"running": {"startedAt": c.started_at}}
            else:
                state = c.last_state or {"terminated": {"exitCode": c.exit_code}}
            statuses.append({
                "name": c.spec["name"], "image": c.spec.get("image", ""),
                "imageID": f"lab://{c.spec.get('image', '')}", "ready": c.ready,
                "started": c.exit_code is None, "restartCount": c.restarts, "state": state,
                "lastState": c.last_state if c.exit_code is None else {},
                "containerID": f"lab://{self.uid[:8]}-{c.spec['name']}-{c.restarts}",
            })
        status = {
            "phase": self.phase, "hostIP": self.node.ip, "podIP": self.ip,
            "podIPs": [{"ip": self.ip}], "startTime": self.start_time,
            "conditions": [self._condition("Initialized", True),
                           self._condition("Ready", ready),
                           self._condition("ContainersReady", ready),
                           self._condition("PodScheduled", True)],
            "containerStatuses": statuses, "qosClass": "BestEffort",
        }
        if reason:
            status.update(reason=reason, message=message)
        return status

    @property
    def ready(self) -> bool:
        return self.phase == "Running" and all(c.ready for c in self.containers)

    async def post_status(self, reason: str = "", message: str = "") -> None:
        """PATCH pods/status when the visible status changed since the last post."""
        status = self.status(reason, message)
        if status == self._posted:
            return
        await self.node.kube.patch(self.path + "/status", {"status": status})
        self._posted = status
        if self.ready != self._recorded_ready:  # ground truth: transitions only, not re-posts
            self._recorded_ready = self.ready
            self.node.record("pod.ready" if self.ready else "pod.unready", {"pod": self.key})

    def reconcile(self, pod: dict) -> None:
        """Someone else changed this pod's status (the node-lifecycle controller marks pods
        NotReady on a node it thinks is down): forget what we posted, so the next tick posts
        our view again — as the kubelet's status manager does when the API drifts from it."""
        if self._posted is None or self.terminating:
            return
        seen = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
        ours = {c["type"]: c["status"] for c in self._posted["conditions"]}
        if seen.get("Ready") != ours.get("Ready") or pod["status"].get("phase") != self.phase:
            self._posted = None

    async def post_status_quietly(self) -> None:
        """post_status for background paths where the apiserver may be briefly unavailable."""
        with contextlib.suppress(KubeApiError, aiohttp.ClientError, TimeoutError):
            await self.post_status()

