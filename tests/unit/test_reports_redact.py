"""Secrets never reach a report: header values, kubeconfig credentials, GCE keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gameday.reports.build import write_reports
from gameday.reports.redact import REDACTED, Redactor, header_rows, run_secrets
from gameday.reports.testing import sample_run


def kubeconfig(tmp_path: Path, token: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "clusters": [{"name": "lab", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "admin", "user": {"token": token}},
                  {"name": "cert", "user": {"client-key-data": "S0VZREFUQWtleWRhdGE="}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "admin"}}]}))
    return path


def test_run_secrets_cover_headers_kubeconfig_and_gce_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "sa.json"
    key.write_text(json.dumps({"type": "service_account", "private_key": "-----BEGIN KEY-----x",
                               "private_key_id": "abcdef123456", "client_email": "a@b"}))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    found = run_secrets({"Authorization": "Bearer SECRET123"},
                        kubeconfig(tmp_path, "labtoken-0123456789"))
    assert {"Bearer SECRET123", "SECRET123", "labtoken-0123456789", "S0VZREFUQWtleWRhdGE=",
            "-----BEGIN KEY-----x", "abcdef123456"} <= set(found)
    assert "a@b" not in found


def test_redactor_replaces_longest_first_and_leaves_short_values() -> None:
    redactor = Redactor(["Bearer SECRET123", "SECRET123", "true"])
    assert redactor.text("auth=Bearer SECRET123; raw SECRET123 true") == \
        f"auth={REDACTED}; raw {REDACTED} true"
    assert redactor.data({"a": ["x SECRET123"], "n": 1}) == {"a": [f"x {REDACTED}"], "n": 1}


def test_header_rows_show_names_only() -> None:
    assert header_rows({"Authorization": "Bearer SECRET123"}) == \
        {"prometheus header Authorization": REDACTED}


def test_no_report_file_holds_a_secret_that_reached_the_evidence(tmp_path: Path) -> None:
    run_dir = tmp_path / "reports" / "20260105-100000-abcd"
    run = sample_run(run_dir)
    run.tests[0].evidence["events"][0]["message"] = "curl -H 'Authorization: Bearer SECRET123'"
    run.tests[1].error_text = "401 for token labtoken-0123456789"
    run.environment.update(header_rows({"Authorization": "Bearer SECRET123"}))
    write_reports(run, run_dir, Redactor(run_secrets({"Authorization": "Bearer SECRET123"},
                                                     kubeconfig(tmp_path, "labtoken-0123456789"))))
    files = [p for p in (tmp_path / "reports").rglob("*") if p.is_file()]
    assert len(files) == 5
    for path in files:
        text = path.read_text()
        assert "SECRET123" not in text, path
        assert "labtoken-0123456789" not in text, path
    assert REDACTED in (run_dir / "index.html").read_text()
