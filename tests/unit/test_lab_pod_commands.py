"""What a lab container runs, from its spec: `$(VAR)` expansion with the kubelet's rules, the
image's program chosen by `command`, and mount paths rewritten to the pod's local folders."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gameday.lab.hollow.containers import make_container
from gameday.lab.hollow.expansion import container_env, expand
from gameday.lab.hollow.images import NotRunnable, argv_for
from gameday.lab.hollow.volumes import PodVolumes, rewrite

ENV = {"POD_IP": "127.20.1.4", "EMPTY": ""}
LOCUST = [sys.executable, "-m", "locust"]


@pytest.mark.parametrize(("text", "expected"), [
    ("--web-host=$(POD_IP)", "--web-host=127.20.1.4"),
    ("$(POD_IP):$(POD_IP)", "127.20.1.4:127.20.1.4"),
    ("$(UNDEFINED)", "$(UNDEFINED)"),  # kept as written
    ("$$(POD_IP)", "$(POD_IP)"),  # $$ escapes
    ("$$$(POD_IP)", "$127.20.1.4"),
    ("a$(EMPTY)b", "ab"),
    ("$(POD_IP", "$(POD_IP"),  # never closed
    ("cost: $5 or $", "cost: $5 or $"),  # any other $ is kept
    ("$()", "$()"),
])
def test_expand_follows_the_kubelet(text: str, expected: str) -> None:
    assert expand(text, ENV) == expected


def test_env_values_see_only_the_variables_before_them() -> None:
    env = container_env([
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "ADDR", "value": "$(POD_IP)"},
        {"name": "EARLY", "value": "$(LATE)"},
        {"name": "LATE", "value": "x"},
        {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
    ], {"status.podIP": "127.20.1.4"})
    assert env == {"POD_IP": "127.20.1.4", "ADDR": "127.20.1.4", "EARLY": "$(LATE)",
                   "LATE": "x"}


def test_command_replaces_the_entrypoint_with_a_program_the_image_has() -> None:
    assert argv_for("locustio/locust:2.47.0", [], ["--version"]) == [*LOCUST, "--version"]
    assert argv_for("docker.io/locustio/locust", ["/usr/local/bin/locust"], ["-V"]) == [
        *LOCUST, "-V"]
    assert argv_for("nginx:1.25", ["nginx"], []) is None  # simulated
    with pytest.raises(NotRunnable, match='no program "sh"'):
        argv_for("locustio/locust", ["sh", "-c", "locust"], [])


MOUNTS = [("/mnt/gameday", "/lab/v/gameday"), ("/mnt/gameday/conf", "/lab/v/conf")]


@pytest.mark.parametrize(("text", "expected"), [
    ("/mnt/gameday/gameday_locustfile.py", "/lab/v/gameday/gameday_locustfile.py"),
    ("/mnt/gameday", "/lab/v/gameday"),
    ("--config=/mnt/gameday/conf/x.conf", "--config=/lab/v/conf/x.conf"),  # innermost mount
    ("/usr/lib:/mnt/gameday", "/usr/lib:/lab/v/gameday"),
    ("/mnt/gamedayx/f", "/mnt/gamedayx/f"),  # not under the mount
    ("http://host/mnt/gameday", "http://host/mnt/gameday"),  # not a path of ours
])
def test_rewrite_maps_mount_paths_to_folders(text: str, expected: str) -> None:
    assert rewrite(text, MOUNTS) == expected


def test_a_locust_container_gets_expanded_local_args(tmp_path: Path) -> None:
    volumes = PodVolumes(tmp_path / "pod", {"gameday": tmp_path / "pod/volumes/gameday"})
    pod = {"metadata": {"name": "master", "namespace": "gameday", "uid": "0123456789"},
           "spec": {"containers": []}}
    spec = {"name": "locust", "image": "locustio/locust:2.47.0",
            "args": ["-f", "/mnt/gameday/gameday_locustfile.py", "--web-host=$(POD_IP)"],
            "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "GAMEDAY_LOAD_METRICS_ADDR", "value": "$(POD_IP)"},
                    {"name": "PYTHONPATH", "value": "/mnt/gameday"}],
            "volumeMounts": [{"name": "gameday", "mountPath": "/mnt/gameday"}]}
    container = make_container(spec, pod, "127.20.1.4", "node-a", "127.20.1.1", volumes)
    local = str(tmp_path / "pod/volumes/gameday")
    assert container.argv == [*LOCUST, "-f", f"{local}/gameday_locustfile.py",
                              "--web-host=127.20.1.4"]
    assert container.env["GAMEDAY_LOAD_METRICS_ADDR"] == "127.20.1.4"
    assert container.env["PYTHONPATH"] == local
    assert container.cwd == tmp_path / "pod"
