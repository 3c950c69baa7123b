"""One pod on a hollow node: its containers as real processes (lab images) or simulated ones,
their probes, restarts, graceful termination, and the pod status a kubelet would post.

A pod with a real process first gets its volumes (gameday.lab.hollow.volumes): until they can be
set up (a ConfigMap not created yet) it stays Pending with its containers ContainerCreating and a
FailedMount event, and is retried every MOUNT_RETRY_S. Simulated pods skip volumes, as KWOK does.
What each container runs is gameday.lab.hollow.containers' business. `activeDeadlineSeconds` is
enforced as by the kubelet: past it, the containers get their grace and the pod is Failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime as dt
import os
import signal
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from gameday.lab.hollow.containers import LAB_ENV_MARKER as LAB_ENV_MARKER
from gameday.lab.hollow.containers import Container, make_container, runs_processes
from gameday.lab.hollow.events import pod_event
from gameday.lab.hollow.kuberest import KubeApiError, KubeRest
from gameday.lab.hollow.probes import ProbeSpec, ProbeState, run_probe
from gameday.lab.hollow.timefmt import now_iso
from gameday.lab.hollow.volumes import PodVolumes, VolumeNotReady

TICK_S = 0.1
MAX_BACKOFF_S = 10.0
MOUNT_RETRY_S = 1.0
START_ERROR_CODE = 128  # what containerd reports for a container whose program cannot start
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
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
    log_dir: Path  # the node's own folder: pod logs, and pods' volumes under volumes/
    record: Callable[[str, dict], None]  # ground-truth events for tests and reports
    spawn: Callable[[Coroutine[Any, Any, None]], None]  # background work the fleet keeps alive


def _active_deadline(pod: dict, start_time: str) -> float | None:
    """Unix time at which activeDeadlineSeconds (counted from status.startTime) runs out."""
    seconds = pod["spec"].get("activeDeadlineSeconds")
    if seconds is None:
        return None
    started = dt.datetime.strptime(start_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    return started.timestamp() + seconds


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
        self.containers: list[Container] = []  # made once the volumes are set up
        self.volumes = PodVolumes(node.log_dir / "volumes" /
                                  f"{meta['namespace']}_{meta['name']}_{self.uid[:8]}")
        self.start_time = pod.get("status", {}).get("startTime") or now_iso()
        self.phase = "Pending"
        self.terminating = False
        self._mount_error = ""
        self._mount_retry_at = 0.0
        self._deadline = _active_deadline(pod, self.start_time)
        self._task: asyncio.Task | None = None
        self._posted: dict | None = None
        self._recorded_ready = False
        self._transitions: dict[str, tuple[str, str]] = {}

    async def _prepare(self) -> bool:
        """Volumes, then the containers; False (pod stays Pending) while a volume waits."""
        if runs_processes(self.pod):
            try:
                await self.volumes.set_up(self.pod, self.node.kube)
            except VolumeNotReady as exc:
                self._mount_retry_at = time.monotonic() + MOUNT_RETRY_S
                if str(exc) != self._mount_error:  # a kubelet repeats it; once is enough here
                    self._mount_error = str(exc)
                    self.node.record("pod.mount_failed", {"pod": self.key, "error": str(exc)})
                    await self._event("Warning", "FailedMount", str(exc))
                return False
            for note in self.volumes.notes:
                await self._event("Warning", "LabVolume", note)
        self.containers = [make_container(c, self.pod, self.ip, self.node.name, self.node.ip,
                                          self.volumes)
                           for c in self.pod["spec"]["containers"]]
        self.phase = "Running"
        return True

    async def _event(self, kind: str, reason: str, message: str) -> None:
        await pod_event(self.node.kube, self.pod, self.node.name, kind, reason, message)

    @property
    def path(self) -> str:
        meta = self.pod["metadata"]
        return f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"

    async def start(self) -> None:
        if await self._prepare():
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
        if c.start_error:
            if c.restarts == 0:
                await self._event("Warning", "Failed", c.start_error)
            self._exited(c, START_ERROR_CODE, "StartError", c.start_error, now)
            return
        log = self.node.log_dir / f"{self.key.replace('/', '_')}_{c.spec['name']}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        c.cwd.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            c.proc = await asyncio.create_subprocess_exec(
                *c.argv, env=c.env, cwd=c.cwd, stdout=out, stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL, preexec_fn=_die_with_parent)

    async def _run(self) -> None:
        """Mount (retrying), probe, watch processes, restart on failure, post status on change."""
        while not self.terminating:
            if self._deadline is not None and time.time() >= self._deadline:
                # the kubelet's activeDeadlineSeconds: stop everything, the pod Failed
                self.node.record("pod.deadline_exceeded", {"pod": self.key})
                grace = self.pod["spec"].get("terminationGracePeriodSeconds", 30)
                self.node.spawn(self.terminate(grace, "Failed", "DeadlineExceeded",
                                               DEADLINE_MESSAGE))
                return
            now = time.monotonic()
            if self.phase == "Pending" and now >= self._mount_retry_at and await self._prepare():
                for c in self.containers:
                    await self._start_container(c)
            for c in self.containers:
                await self._check(c, now)
            if self.phase in ("Succeeded", "Failed"):
                await self.post_status_quietly()
                return
            await self.post_status_quietly()
            await asyncio.sleep(TICK_S)

    def _exited(self, c: Container, code: int, reason: str, message: str, now: float) -> None:
        """A container ended: restart it later per restartPolicy, or settle the pod's phase
        once every container has ended for good (Failed if any ended non-zero)."""
        c.exit_code = code
        terminated = {"exitCode": code, "reason": reason, "startedAt": c.started_at,
                      "finishedAt": now_iso()}
        c.last_state = {"terminated": {**terminated, "message": message} if message
                        else terminated}
        self.node.record("container.exited", {"pod": self.key, "code": code})
        if self.restart_policy == "Always" or (self.restart_policy == "OnFailure" and code):
            c.restart_at = now + min(MAX_BACKOFF_S, 2 ** min(c.restarts, 4) * 0.5)
        elif all(x.exit_code is not None and not x.restart_at for x in self.containers):
            self.phase = "Failed" if any(x.exit_code for x in self.containers) else "Succeeded"

    async def _check(self, c: Container, now: float) -> None:
        if c.proc is not None and c.proc.returncode is not None and c.exit_code is None:
            code = c.proc.returncode
            self._exited(c, code, "Error" if code else "Completed", "", now)
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
        if not self.containers:  # volumes not set up: no sandbox, no IP yet (as a kubelet)
            statuses = [{"name": spec["name"], "image": spec.get("image", ""), "imageID": "",
                         "ready": False, "started": False, "restartCount": 0,
                         "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}}
                        for spec in self.pod["spec"]["containers"]]
        status = {
            "phase": self.phase, "hostIP": self.node.ip, "startTime": self.start_time,
            "conditions": [self._condition("Initialized", True),
                           self._condition("Ready", ready),
                           self._condition("ContainersReady", ready),
                           self._condition("PodScheduled", True)],
            "containerStatuses": statuses, "qosClass": "BestEffort",
        }
        if self.containers:
            status.update(podIP=self.ip, podIPs=[{"ip": self.ip}])
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

