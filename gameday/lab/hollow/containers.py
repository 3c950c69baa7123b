"""What one container of a lab pod runs: its argv, environment and working folder, derived
from the pod spec the way a kubelet derives them, plus the state the pod runner keeps for it.

Order matters and follows the kubelet: env values resolved (fieldRef from the downward API,
`$(VAR)` expanded), command and args expanded against that env, the image's program chosen by
`command` (gameday.lab.hollow.images); then, the lab's own step, paths under a volume mount are
rewritten to the pod's local folders (gameday.lab.hollow.volumes) since no mount exists.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path

from gameday.lab.hollow.expansion import container_env, expand
from gameday.lab.hollow.images import NotRunnable, argv_for, program_for
from gameday.lab.hollow.probes import ProbeState
from gameday.lab.hollow.volumes import PodVolumes, rewrite

LAB_ENV_MARKER = "GAMEDAY_LAB_STATE"  # lets `lab down` find pod processes orphaned by a crash


@dataclass
class Container:
    spec: dict
    argv: list[str] | None  # None: simulated image
    env: dict[str, str]
    cwd: Path
    start_error: str = ""  # why argv cannot run (images.NotRunnable); it exits at each start
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


def runs_processes(pod: dict) -> bool:
    """Whether any container of the pod is a real process (else the pod is fully simulated)."""
    return any(program_for(c.get("image", "")) for c in pod["spec"]["containers"])


def downward_fields(pod: dict, pod_ip: str, node_name: str, node_ip: str) -> dict[str, str]:
    """The downward API fields an env var's fieldRef may name."""
    meta = pod["metadata"]
    return {"status.podIP": pod_ip, "status.podIPs": pod_ip, "status.hostIP": node_ip,
            "metadata.name": meta["name"], "metadata.namespace": meta["namespace"],
            "metadata.uid": meta["uid"], "spec.nodeName": node_name,
            "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default")}


def _lab_env(spec: dict, pod: dict, pod_ip: str, node_name: str) -> dict[str, str]:
    """What the lab adds to every process (its image would have PATH; the rest is ours)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GAMEDAY_POD_IP": pod_ip,
            LAB_ENV_MARKER: os.environ.get(LAB_ENV_MARKER, ""),
            "GAMEDAY_POD_NAME": pod["metadata"]["name"], "GAMEDAY_NODE_NAME": node_name,
            "GAMEDAY_POD_NAMESPACE": pod["metadata"]["namespace"],
            "GAMEDAY_PORTS": ",".join(str(p["containerPort"]) for p in spec.get("ports", []))}


def make_container(spec: dict, pod: dict, pod_ip: str, node_name: str, node_ip: str,
                   volumes: PodVolumes) -> Container:
    """A container ready to start: expanded env/command/args, mount paths made local, and
    either its argv (None when simulated) or the reason it cannot start."""
    declared = container_env(spec.get("env") or [],
                             downward_fields(pod, pod_ip, node_name, node_ip))
    mounts = volumes.mounts(spec)

    def local(text: str) -> str:
        return rewrite(text, mounts)

    env = {**_lab_env(spec, pod, pod_ip, node_name),
           **{name: local(value) for name, value in declared.items()}}
    command = [local(expand(str(s), declared)) for s in spec.get("command") or []]
    args = [local(expand(str(s), declared)) for s in spec.get("args") or []]
    # the image's folders do not exist here: the pod's folder, unless workingDir is a mount
    workdir = spec.get("workingDir", "")
    cwd = Path(local(workdir)) if local(workdir) != workdir else volumes.root
    try:
        return Container(spec, argv_for(spec.get("image", ""), command, args), env, cwd)
    except NotRunnable as exc:
        return Container(spec, [], env, cwd, start_error=str(exc))
