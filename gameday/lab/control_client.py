"""Python client of labd's control endpoint: power hollow nodes off and on, read ground truth.

    lab = LabControl.from_state_dir(Path(".gameday/lab"))
    lab.power_off("gke-lab-spot-pool-09de2d96-mcm7", mode="abrupt")   # the API is not told
    lab.power_on("gke-lab-spot-pool-09de2d96-mcm7")                   # same name, new boot id

Powering off here acts on the guest (a pulled plug), not on the simulated VM, so no MIG repairs
it; cloud-level faults go through the Compute Engine endpoint like on GKE.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from gameday.errors import LabError, UsageError

MODES = ("abrupt", "graceful")


class LabControl:
    """Talks to one lab's labd over loopback HTTP, with a timeout on every call."""

    def __init__(self, control_url: str, timeout_s: float = 30.0) -> None:
        self.url = control_url.rstrip("/")
        self.timeout_s = timeout_s

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> LabControl:
        from gameday.lab.state import LabState

        return cls(LabState.load(state_dir).endpoints()["control_url"])

    def _call(self, method: str, path: str) -> dict[str, Any]:
        req = urllib.request.Request(self.url + path, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise LabError(f"labd refused {method} {path}: {exc.read().decode()[:300]}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise LabError(f"labd at {self.url} did not answer ({exc}); is the lab up? "
                           "`gameday lab status`") from exc

    def nodes(self) -> list[dict[str, Any]]:
        """Every hollow node: name, zone, pool, powered, boot_id, instance_id, pods."""
        return self._call("GET", "/lab/nodes")["nodes"]

    def power_off(self, node: str, mode: str = "abrupt") -> dict[str, Any]:
        """Abrupt: processes die, heartbeats stop. Graceful: GKE's shutdown grace first."""
        if mode not in MODES:
            raise UsageError(f"power-off mode must be one of {', '.join(MODES)}, got {mode!r}")
        return self._call("POST", f"/lab/nodes/{node}/power-off?mode={mode}")

    def power_on(self, node: str) -> dict[str, Any]:
        return self._call("POST", f"/lab/nodes/{node}/power-on")

    def events(self, since: float = 0.0) -> list[dict[str, Any]]:
        """labd's ground truth (node power, pod readiness) with wall-clock `ts`."""
        return self._call("GET", f"/lab/events?since={since}")["events"]
