"""Pure parts of the lab: profiles, GKE node labels, image table, control-plane flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.errors import UsageError
from gameday.lab import controlplane
from gameday.lab.hollow.host import NodeSpec
from gameday.lab.hollow.images import program_for, repository
from gameday.lab.hollow.node import node_labels
from gameday.lab.pki import generate
from gameday.lab.profiles import TIMINGS, get_profile


def test_profiles_cover_every_timing_and_fast_is_faster() -> None:
    gke, fast = get_profile("gke"), get_profile("fast")
    for name, timing in TIMINGS.items():
        assert timing.source, name
        assert getattr(fast, name) <= getattr(gke, name), name
    assert gke.node_monitor_grace_period == 40 and gke.not_ready_toleration == 300
    assert gke.hc_interval == 15 and gke.hc_unhealthy_threshold == 2
    with pytest.raises(UsageError, match="gke, fast"):
        get_profile("turbo")


@pytest.mark.parametrize("name", ["gke", "fast"])
def test_a_vm_stop_leaves_room_for_the_graceful_node_shutdown(name: str) -> None:
    """Cut short, the shutdown kills pods without marking them Failed, and their replacements
    wait for the taint manager instead of coming at once, as they do on GKE."""
    profile = get_profile(name)
    assert profile.vm_stop >= (profile.preemption_pod_grace
                               + profile.preemption_critical_pod_grace)


def _spec(provisioning: str) -> NodeSpec:
    return NodeSpec("gke-lab-p-12345678-abcd", "europe-west1-b", "europe-west1", "p",
                    provisioning, "proj", 42, "127.20.0.1")


def test_node_labels_match_gke() -> None:
    labels = node_labels(_spec("SPOT"))
    assert labels["topology.kubernetes.io/zone"] == "europe-west1-b"
    assert labels["topology.kubernetes.io/region"] == "europe-west1"
    assert labels["cloud.google.com/gke-nodepool"] == "p"
    assert labels["cloud.google.com/gke-spot"] == "true"
    assert "cloud.google.com/gke-preemptible" not in labels
    assert node_labels(_spec("PREEMPTIBLE"))["cloud.google.com/gke-preemptible"] == "true"
    standard = node_labels(_spec("STANDARD"))
    assert "cloud.google.com/gke-spot" not in standard
    assert "cloud.google.com/gke-preemptible" not in standard


def test_image_table_ignores_tag_and_digest() -> None:
    assert repository("gameday-lab/sample-app:1") == "gameday-lab/sample-app"
    assert repository("localhost:5000/x/y:2") == "localhost:5000/x/y"
    assert repository("gameday-lab/sample-app@sha256:abc") == "gameday-lab/sample-app"
    assert program_for("gameday-lab/sample-app:7") is not None
    assert program_for("nginx:1.25") is None


def test_scenario_waits_cover_what_gke_really_takes() -> None:
    """On GKE, pods of a lost zone run elsewhere only after the 40 s grace and the 300 s
    toleration, and a preempted VM is back after ~3 min: waits must outlast both, while the
    fast profile keeps a lab scenario near a minute."""
    gke, fast = get_profile("gke"), get_profile("fast")
    assert gke.reschedule_timeout_s() > 2 * (40 + 300)
    assert gke.node_replacement_timeout_s() > 2 * (30 + 15 + 60 + 40)
    assert 60 < fast.reschedule_timeout_s() < 120 and 60 < fast.node_replacement_timeout_s() < 120


def test_control_plane_flags_follow_the_profile(tmp_path: Path) -> None:
    keys = generate(tmp_path / "pki")
    ports = controlplane.Ports(1, 2, 3)
    fast = get_profile("fast")
    api = controlplane.apiserver_argv(Path("kube-apiserver"), keys, ports, tmp_path, fast)
    assert "--default-unreachable-toleration-seconds=8" in api
    assert "--bind-address=127.0.0.1" in api
    assert f"--service-cluster-ip-range={controlplane.SERVICE_CIDR}" in api
    cm = controlplane.controller_manager_argv(Path("kcm"), keys, get_profile("gke"))
    assert "--node-monitor-grace-period=40s" in cm
    assert (tmp_path / "audit-policy.yaml").exists()
    assert all("127.0.0.1" in a for a in controlplane.etcd_argv(Path("etcd"), tmp_path, ports)
               if a.startswith("--listen"))


def test_control_client_refuses_bad_mode_and_names_a_dead_lab() -> None:
    from gameday.errors import LabError
    from gameday.lab.control_client import LabControl
    from gameday.lab.waits import free_port

    lab = LabControl(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    with pytest.raises(UsageError, match="abrupt, graceful"):
        lab.power_off("n1", mode="yank")
    with pytest.raises(LabError, match="is the lab up"):
        lab.nodes()
