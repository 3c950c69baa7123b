"""The run page of a real (tiny) game day on the lab, rendered by headless Chromium.

A scenario with a short load and a pod kill runs in its own pytest process against the
session's lab (`--lab=running`); its index.html must render offline to a non-blank screenshot,
kept in the run folder for a human to look at.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from tests.conftest import LabHandle

SCENARIO = '''
from gameday.faults.pod_kill import PodKill
from gameday.slo import Availability

SLOS = [Availability.from_load(0.5, name="availability")]


def test_pod_kill(gameday):
    namespace = gameday.param("app_namespace", "gameday-demo")
    gameday.ensure_available(namespace, "web", timeout_s=60)
    with gameday.load(users=2):
        gameday.observe("baseline", 3)
        with gameday.inject(PodKill, namespace=namespace, selector="app=web", count=2):
            gameday.hold(4)
        gameday.observe("recovery", 4)
    gameday.evaluate(SLOS, "fault", "recovery")
'''

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--window-size=1400,2000")


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def png_info(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct scanlines) of an 8-bit RGB(A) PNG, with the stdlib only."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8, f"unexpected bit depth {depth}"
            channels = {2: 3, 6: 4}[colour]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + width * channels
    rows = {raw[i * stride + 1:(i + 1) * stride] for i in range(height)}
    return width, height, len(rows)


@pytest.mark.skipif(chromium() is None, reason="Debian's chromium is not installed "
                    "(apt-get install -y chromium); the page cannot be rendered headless")
def test_report_renders_in_headless_chromium(lab: LabHandle, tmp_path: Path) -> None:
    (tmp_path / "test_tiny_day.py").write_text(SCENARIO)
    reports = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:locust", "-p", "no:cacheprovider",
         "test_tiny_day.py", f"--lab-dir={lab.state_dir}", "--lab=running",
         f"--report-dir={reports}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    run_dir = (reports / "latest").resolve()
    page = run_dir / "index.html"
    summary = json.loads((run_dir / "summary.json").read_text())
    (test,) = summary["tests"]
    assert test["verdict"] == "pass", test
    assert {"pod_kill.injected_at", "pod_kill.reverted_at"} <= set(test["figures"])
    html = page.read_text()
    assert "pod_kill inject" in html
    assert "ready pods per zone unavailable" not in html  # the lab's Prometheus answered
    assert "europe-west1-b" in html  # a zone's ready-pod line

    shot = run_dir / "screenshot.png"
    profile = tmp_path / "chromium-profile"
    rendered = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
         page.as_uri()], capture_output=True, text=True, timeout=90, check=False)
    assert shot.is_file(), rendered.stderr[-2000:]
    width, height, distinct_rows = png_info(shot)
    assert (width, height) == (1400, 2000)
    assert distinct_rows > 200, f"the screenshot looks blank ({distinct_rows} distinct rows)"
    print(f"screenshot kept at {shot}")
