"""The cluster placement's ConfigMap bundle, laid out as a pod would see it and run by Locust.

The bundle must be self-sufficient: the pod's image has Locust and nothing of gameday, so the
entry file must import the bundle's own copies of gameday's in-Locust modules. The run below
uses the venv's Python (where gameday *is* installed) and asserts the modules came from the
bundle folder, which is what proves the folder alone is enough.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gameday.errors import UsageError
from gameday.load import bundle
from gameday.load.runner import _free_port
from gameday.load.wrapper import ADDR_ENV, PORT_ENV, RUN_ENV
from tests.helpers import eventually
from tests.unit.test_load_run import Target


def _lay_out(b: bundle.Bundle, root: Path) -> Path:
    """What the kubelet does with the ConfigMap volume's `items`."""
    for key, path in b.paths.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(b.data[key])
    return root / bundle.ENTRY


def test_keys_are_valid_configmap_keys_and_items_cover_every_file() -> None:
    b = bundle.build_bundle(None, None)
    assert all("/" not in key for key in b.data)
    assert {item["path"] for item in b.items} >= {
        bundle.ENTRY, bundle.USER_FILE, "gameday/__init__.py", "gameday/load/exporter.py",
        "gameday/load/guard.py"}
    assert b.entry_path == "/mnt/gameday/gameday_locustfile.py"


def test_a_locustfile_too_big_for_a_configmap_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "locustfile.py"
    big.write_text("# " + "x" * bundle.MAX_BYTES + "\n")
    with pytest.raises(UsageError, match="ConfigMap"):
        bundle.build_bundle(big, None)


def test_the_bundle_alone_runs_the_load_and_serves_its_metrics(tmp_path: Path) -> None:
    entry = _lay_out(bundle.build_bundle(None, None), tmp_path / "mnt")
    probe = tmp_path / "probe.py"  # appended to the entry: where did gameday come from?
    probe.write_text("import gameday.load.exporter as _e\n"
                     f"open({str(tmp_path / 'origin')!r}, 'w').write(_e.__file__)\n")
    entry.write_text(entry.read_text() + probe.read_text())
    port = _free_port()
    env = {**os.environ, PORT_ENV: str(port), ADDR_ENV: "127.0.0.1", RUN_ENV: "run-abc"}
    with Target() as target:
        proc = subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", str(entry), "--headless", "-u", "2",
             "-r", "2", "-t", "30s", "--host", target.url, "--only-summary"],
            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            eventually(lambda: target.hits["/"] > 5, 30, "requests from the bundle's Locust")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text = r.read().decode()
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=20)
    assert (tmp_path / "origin").read_text().startswith(str(tmp_path / "mnt")), err.decode()
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "gameday_load_requests_total"]
    assert samples and all(s.labels["gameday_run"] == "run-abc" for s in samples)
    assert sum(s.value for s in samples if s.labels["code"] == "200") > 5
