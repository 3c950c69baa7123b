"""`gameday lab up/status/down` as a user runs them: a second, tiny lab of the test's own."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from gameday.cli import main
from gameday.lab.down import lab_pids
from gameday.lab.state import LabState
from gameday.lab.waits import port_taken


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_up_status_down_leaves_nothing_behind(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    state_dir = str(tmp_path / "lab")
    block = str(100 + os.getpid() % 60)
    code, out, err = _cli(capsys, "lab", "up", "--state-dir", state_dir, "--nodes", "2",
                          "--zones", "2", "--no-app", "--ip-block", block)
    assert code == 0, err
    assert "nodes: 2/2 Ready" in out
    try:
        code, _, err = _cli(capsys, "lab", "up", "--state-dir", state_dir, "--nodes", "2",
                            "--zones", "2", "--ip-block", block)
        assert code == 2 and "already running" in err
        code, out, _ = _cli(capsys, "lab", "status", "--json", "--state-dir", state_dir)
        status = json.loads(out)
        assert status["context"] == "gameday-lab"
        assert {n["zone"] for n in status["nodes"]} == {"europe-west1-b", "europe-west1-c"}
        assert all(n["ready"] for n in status["nodes"])
        assert status["apiserver_url"].startswith("https://127.0.0.1:")
        state = LabState.load(Path(state_dir))
        records = list(state.processes.values())
    finally:
        code, _, err = _cli(capsys, "lab", "down", "--state-dir", state_dir)
    assert code == 0, err
    assert not [r.name for r in records if r.alive()]
    assert not [p for p in state.ports.values() if port_taken(p)]
    assert lab_pids(Path(state_dir)) == []
    code, _, err = _cli(capsys, "lab", "status", "--state-dir", state_dir)
    assert code == 2 and "gameday lab up" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nodes", "0"], "at least 1"),
        (["--nodes", "2", "--zones", "3"], "more zones"),
        (["--profile", "warp"], "unknown timing profile"),
        (["--pool", "x:cheap"], "unknown provisioning"),
    ],
)
def test_bad_input_is_refused_before_anything_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
        message: str) -> None:
    code, _, err = _cli(capsys, "lab", "up", "--state-dir", str(tmp_path / "lab"), *args)
    assert code == 2 and message in err
    assert not (tmp_path / "lab" / "state.json").exists()


def test_a_state_folder_that_is_a_file_or_unwritable_is_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "lab"
    a_file.write_text("not a folder")
    code, _, err = _cli(capsys, "lab", "up", "--state-dir", str(a_file))
    assert code == 2 and f"{a_file} is a file" in err
    code, _, err = _cli(capsys, "lab", "up", "--state-dir", str(a_file / "below"))
    assert code == 2 and "cannot create the lab state folder" in err
    code, out, _ = _cli(capsys, "lab", "down", "--state-dir", str(a_file), "--purge")
    assert code == 0 and "nothing to stop" in out and a_file.read_text() == "not a folder"


def test_taken_port_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        code, _, err = _cli(capsys, "lab", "up", "--state-dir", str(tmp_path / "lab"),
                            "--apiserver-port", str(port))
    assert code == 2 and f"port {port}" in err and "in use" in err


def test_missing_binaries_say_how_to_get_them(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("GAMEDAY_K8S_BIN", raising=False)
    code, _, err = _cli(capsys, "lab", "up", "--state-dir", str(tmp_path / "lab"))
    assert code == 2 and "gameday lab install" in err and "kube-apiserver" in err


def test_ip_block_in_use_is_refused_and_auto_skips_it(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from gameday.lab.blocks import reserve
    from gameday.lab.waits import listening_blocks

    with socket.socket() as s:
        s.bind(("127.77.1.2", 0))  # as another lab's pod would
        s.listen()
        assert 77 in listening_blocks()
        code, _, err = _cli(capsys, "lab", "up", "--state-dir", str(tmp_path / "lab"),
                            "--ip-block", "77")
        assert code == 2 and "127.77.0.0/16 is in use" in err
        assert reserve(None) != 77


def test_two_labs_starting_together_never_get_the_same_block() -> None:
    """Nothing listens in a block while its lab starts: the reservation must keep it."""
    from gameday.lab.blocks import reserve

    first, second = reserve(None), reserve(None)
    assert first != second
