"""Plugin options: precedence (option > env > ini > default) and refusals of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.errors import UsageError
from gameday.settings import resolve


def _resolve(options: dict | None = None, ini: dict | None = None):
    options, ini = options or {}, ini or {}
    return resolve(lambda n: options.get(n), lambda n: ini.get(n))


def test_defaults_target_the_lab() -> None:
    s = _resolve()
    assert s.uses_lab and s.lab == "auto" and not s.dry_run
    assert s.report_dir == Path("reports") and s.max_nodes == 3


def test_option_beats_env_beats_ini(monkeypatch: pytest.MonkeyPatch) -> None:
    ini = {"gameday_prometheus_url": "http://127.0.0.1:1"}
    assert _resolve(ini=ini).prometheus_url == "http://127.0.0.1:1"
    monkeypatch.setenv("GAMEDAY_PROMETHEUS_URL", "http://127.0.0.1:2")
    assert _resolve(ini=ini).prometheus_url == "http://127.0.0.1:2"
    assert _resolve({"prometheus_url": "http://127.0.0.1:3"}, ini).prometheus_url.endswith(":3")


def test_lists_pairs_and_context() -> None:
    s = _resolve({"allowed_contexts": ["staging"], "overrides": ["fault_s=30", "a.target=0.9"],
                  "prometheus_headers": ["Authorization: Bearer x"], "kube_context": "staging"})
    assert s.allowed_contexts == {"staging"}
    assert s.overrides == {"fault_s": "30", "a.target": "0.9"}
    assert s.prometheus_headers == {"Authorization": "Bearer x"}
    assert not s.uses_lab
    assert _resolve(ini={"gameday_allowed_contexts": ["a", "b"]}).allowed_contexts == {"a", "b"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lab": "maybe"}, "--lab must be one of"),
        ({"prometheus_url": "localhost:9090"}, "http(s) URL"),
        ({"gce_endpoint": "ftp://127.0.0.1"}, "--gce-endpoint"),
        ({"kubeconfig": "/nonexistent/kubeconfig"}, "does not exist"),
        ({"max_nodes": "0"}, "at least 1"),
        ({"max_nodes": "many"}, "whole number"),
        ({"overrides": ["fault_s"]}, "KEY=VALUE"),
        ({"prometheus_headers": ["no-colon"]}, "'Name: value'"),
    ],
)
def test_bad_options_are_refused(options: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _resolve(options)


def test_bad_option_stops_pytest_before_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("-p", "no:locust", "--lab=maybe")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*gameday: --lab must be one of*"])
