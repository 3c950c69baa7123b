"""LoadSpec rejects, before any process starts, what Locust would only fail on later."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.errors import UsageError
from gameday.load import LoadSpec
from gameday.load.spec import SAFETY_CAP_S


def test_defaults_are_the_default_user_until_stopped() -> None:
    spec = LoadSpec(host="http://127.0.0.1:8080")
    assert (spec.users, spec.spawn_rate, spec.workers, spec.locustfile) == (20, 20, 0, None)
    assert spec.time_limit_s == SAFETY_CAP_S
    assert LoadSpec(host="https://127.0.0.1/api", run_time_s=2.5).time_limit_s == 2.5


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"host": "127.0.0.1:8080"}, "not a URL"),
    ({"host": "ftp://127.0.0.1"}, "not a URL"),
    ({"host": "http://127.0.0.1/?q=1"}, "query"),
    ({"host": "http://127.0.0.1", "users": 0}, "users must be at least 1"),
    ({"host": "http://127.0.0.1", "spawn_rate": 0}, "spawn_rate"),
    ({"host": "http://127.0.0.1", "workers": -1}, "workers"),
    ({"host": "http://127.0.0.1", "run_time_s": 0}, "run_time_s"),
    ({"host": "http://127.0.0.1", "run_time_s": SAFETY_CAP_S + 1}, "run_time_s"),
    ({"host": "http://127.0.0.1", "locustfile": Path("/nonexistent/lf.py")}, "not an existing"),
    ({"host": "http://127.0.0.1", "shape": "Steps"}, "set locustfile too"),
    ({"host": "http://127.0.0.1", "extra_args": ["--users=5"]}, "--users"),
    ({"host": "http://127.0.0.1", "extra_args": ["-t", "5s"]}, "-t"),
    ({"host": "http://127.0.0.1", "remote_workers": -1}, "remote_workers must be 0"),
    ({"host": "http://127.0.0.1", "remote_workers": 2, "master_port": 5557},
     "set workers >= 1"),
    ({"host": "http://127.0.0.1", "remote_workers": 2, "workers": 1}, "set master_port"),
    ({"host": "http://127.0.0.1", "workers": 1, "master_port": 80}, "1024..65534"),
])
def test_bad_specs_are_usage_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("?", r"\?")):
        LoadSpec(**kwargs)


def test_locustfile_is_resolved_and_classes_checked(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "lf.py").write_text("# a locustfile\n")
    monkeypatch.chdir(tmp_path)
    spec = LoadSpec(host="http://127.0.0.1", locustfile=Path("lf.py"), user_classes=["A"])
    assert spec.locustfile == tmp_path / "lf.py"
    with pytest.raises(UsageError, match="user_classes is empty"):
        LoadSpec(host="http://127.0.0.1", locustfile=Path("lf.py"), user_classes=[])
