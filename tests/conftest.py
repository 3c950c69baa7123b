"""Test-suite fixtures: one real lab per test session, shared by every test under tests/lab/.

Each session gets its own state folder and a free 127.B.0.0/16 block (picked by `lab up`), so
two sessions on one machine never share nodes, ports or pod addresses.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gameday.lab.config import LabConfig
from gameday.lab.down import down
from gameday.lab.state import LabState
from gameday.lab.up import up

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class LabHandle:
    """What tests need of the running lab; `status` holds every endpoint by name."""

    state: LabState

    @property
    def state_dir(self) -> Path:
        return self.state.dir

    @property
    def kubeconfig(self) -> Path:
        return self.state.kubeconfig

    @property
    def context(self) -> str:
        return self.state.context

    @property
    def status(self) -> dict:
        return self.state.to_dict()


@pytest.fixture(scope="session")
def lab() -> Iterator[LabHandle]:
    """Start a lab once for the session (fast profile), stop and purge it afterwards."""
    pid = os.getpid()
    state_dir = ROOT / ".gameday" / f"test-lab-{pid}"
    shutil.rmtree(state_dir, ignore_errors=True)
    state = up(LabConfig(nodes=6, zones=3, profile="fast"), state_dir, quiet=True)
    try:
        yield LabHandle(state)
    finally:
        if os.environ.get("GAMEDAY_TEST_KEEP_LAB") != "1":  # =1 keeps it for a post-mortem
            down(state_dir, purge=True)
