"""The lab state folder and its `state.json`: the one place that says what is running where.

Scripts and tests read ports and URLs from here (or from `gameday lab status --json`) and never
guess them. The file is replaced atomically, so a crash mid-write leaves the previous version.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from gameday.errors import LabNotRunning
from gameday.lab.config import LabConfig
from gameday.lab.pki import CONTEXT
from gameday.lab.procs import ProcRecord

STATE_FILE = "state.json"
GOOGLE_KEY_FILE = "gcp/lab-service-account.json"  # written by labd (gameday/lab/tokens.py)


def default_dir() -> Path:
    """$GAMEDAY_LAB_DIR, else ./.gameday/lab (git-ignored), as an absolute path."""
    return Path(os.environ.get("GAMEDAY_LAB_DIR") or ".gameday/lab").resolve()


@dataclass
class LabState:
    """Everything `lab up` started and every address it handed out."""

    dir: Path
    config: LabConfig
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, ProcRecord] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # how long `up` took, by milestone

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def context(self) -> str:
        return CONTEXT

    def url(self, port_name: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.ports[port_name]}"

    @property
    def google_credentials(self) -> Path:
        """The service-account key whose tokens the lab's GMP endpoint accepts."""
        return self.dir / GOOGLE_KEY_FILE

    @property
    def apiserver_url(self) -> str:
        return self.url("apiserver", "https")

    def endpoints(self) -> dict[str, str]:
        """The addresses other tools need, keyed as in `lab status --json`."""
        out = {"apiserver_url": self.apiserver_url}
        if "labd" in self.ports:
            out["control_url"] = self.url("labd")
            out["compute_endpoint"] = self.url("labd")
            out["gce_project"] = self.config.project
        if "ingress" in self.ports:
            out["ingress_url"] = self.url("ingress")
            out["ingress_admin_url"] = self.url("ingress_admin")
        if "prometheus" in self.ports:
            out["prometheus_url"] = self.url("prometheus")
        if "labd" in self.ports and "prometheus" in self.ports:
            # Managed Prometheus's shape: wants a token from the key below (--prometheus-auth
            # google with GOOGLE_APPLICATION_CREDENTIALS=google_credentials)
            out["gmp_url"] = (self.url("labd") + "/v1/projects/" + self.config.project
                              + "/location/global/prometheus")
            out["google_credentials"] = str(self.google_credentials)
        return out

    def to_dict(self) -> dict:
        return {
            "version": 1, "state_dir": str(self.dir), "config": self.config.to_dict(),
            "kubeconfig": str(self.kubeconfig), "context": self.context,
            "ports": self.ports, **self.endpoints(),
            "processes": {k: v.to_dict() for k, v in self.processes.items()},
            "timings": self.timings,
        }

    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / (STATE_FILE + ".tmp")
        with open(tmp, "w") as f:
            json.dump(self.to_dict(), f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.dir / STATE_FILE)

    @classmethod
    def load(cls, state_dir: Path) -> LabState:
        path = state_dir / STATE_FILE
        if not path.exists():
            raise LabNotRunning(f"no lab in {state_dir}: start one with `gameday lab up`")
        data = json.loads(path.read_text())
        return cls(
            dir=state_dir, config=LabConfig.from_dict(data["config"]), ports=data["ports"],
            processes={k: ProcRecord(**v) for k, v in data["processes"].items()},
            timings=data.get("timings", {}),
        )

    def running(self) -> list[str]:
        """Names of recorded processes that are still alive (verified by pid start time)."""
        return [name for name, rec in self.processes.items() if rec.alive()]
