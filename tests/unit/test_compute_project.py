"""`--gce-project` is the project Compute calls act in: checked once with the API, and a node
of another project refused; against the lab's Compute endpoint (real google-cloud-compute
client, real HTTP on loopback), whose only project is the layout's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.adapters.compute import ComputeAdapter
from gameday.errors import UsageError
from gameday.lab.compute import ClusterLayout, NodePool
from gameday.lab.compute.testing import RecordingHost, RunningCompute, quick_profile, serve
from gameday.lab.profiles import get_profile
from gameday.run import RunContext
from gameday.settings import Settings

P, B = "gameday-lab", "europe-west1-b"
LAYOUT = ClusterLayout(P, "europe-west1", "lab", (NodePool("std", (B,), 1),))


@pytest.fixture(scope="module")
def gce() -> Iterator[RunningCompute]:
    with serve(LAYOUT, RecordingHost(), quick_profile(get_profile("fast"))) as running:
        yield running


def run_context(gce: RunningCompute, project: str | None, tmp_path: Path) -> RunContext:
    settings = Settings(lab="off", gce_endpoint=gce.endpoint, gce_project=project,
                        report_dir=tmp_path)
    return RunContext(settings)


def test_the_run_acts_in_the_given_project(gce: RunningCompute, tmp_path: Path) -> None:
    compute = run_context(gce, P, tmp_path).compute
    assert compute is not None and compute.project == P
    ref = compute.instance_ref(f"gce://{P}/{B}/vm-1")
    assert (ref.project, ref.zone, ref.name) == (P, B, "vm-1")


def test_a_wrong_project_is_refused_before_any_fault(gce: RunningCompute,
                                                     tmp_path: Path) -> None:
    with pytest.raises(UsageError) as exc:
        run_context(gce, "gameday-lab-typo", tmp_path).compute  # noqa: B018 (the check)
    assert str(exc.value).startswith(f"--gce-project 'gameday-lab-typo': {gce.endpoint} has "
                                     "no such project or refuses access (404: ")
    assert "leave --gce-project out" in str(exc.value)


def test_a_node_of_another_project_is_refused(gce: RunningCompute) -> None:
    compute = ComputeAdapter(api_endpoint=gce.endpoint, project=P, timeout=5)
    with pytest.raises(UsageError, match=r"VM gce://other/europe-west1-b/vm-1 is in project "
                                         r"'other', not in --gce-project 'gameday-lab'"):
        compute.instance_ref(f"gce://other/{B}/vm-1")


def test_without_a_project_the_provider_id_decides(gce: RunningCompute) -> None:
    compute = ComputeAdapter(api_endpoint=gce.endpoint, timeout=5)
    compute.check_project()  # nothing to check
    assert compute.instance_ref(f"gce://other/{B}/vm-1").project == "other"
