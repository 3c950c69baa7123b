"""The CI templates in examples/ci/ parse, run nightly, run the game day with flags gameday
really has, keep reports/ on failure, and let pytest's exit code be the job's verdict."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from gameday.cli import build_parser
from gameday.settings import OPTIONS

CI = Path(__file__).resolve().parents[2] / "examples" / "ci"
GAMEDAY_COMMAND = ("pytest scenarios/ --kube-context=$CONTEXT --allow-context=$CONTEXT "
                   "--report-dir=reports")


def load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((CI / name).read_text())
    assert isinstance(doc, dict), f"{name} is not a YAML mapping"
    return doc


def one_line(text: str) -> str:
    return " ".join(text.split())


def pytest_line(lines: list[str]) -> str:
    found = [one_line(line) for line in lines if one_line(line).startswith("pytest ")]
    assert len(found) == 1, f"expected exactly one pytest command, found {found}"
    return found[0]


def assert_known_flags(command: str) -> None:
    """Every --flag of the pytest command is an option the gameday plugin registers."""
    known = {o.flag for o in OPTIONS}
    flags = {arg.split("=", 1)[0] for arg in shlex.split(command) if arg.startswith("--")}
    assert flags <= known, f"unknown gameday options {sorted(flags - known)}"


def assert_recover_parses(line: str) -> None:
    args = build_parser().parse_args(shlex.split(one_line(line))[1:])
    assert args.cmd == "recover" and args.report_dir == Path("reports")


def assert_cron(expr: str) -> None:
    assert re.fullmatch(r"(\S+\s+){4}\S+", expr.strip()), f"not a 5-field cron: {expr!r}"


# -- GitLab ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gitlab() -> dict[str, Any]:
    return load("gitlab-ci.yml")


def test_gitlab_runs_on_schedule(gitlab: dict[str, Any]) -> None:
    conditions = [r["if"] for r in gitlab["workflow"]["rules"]]
    assert '$CI_PIPELINE_SOURCE == "schedule"' in conditions


def test_gitlab_installs_authenticates_and_gets_credentials(gitlab: dict[str, Any]) -> None:
    setup = "\n".join(gitlab["gameday"]["before_script"])
    assert "pip install -q ." in setup
    assert "google-cloud-cli-gke-gcloud-auth-plugin" in setup
    assert "gcloud container clusters get-credentials" in setup
    # both credential variants: workload identity federation and a key JSON file variable
    assert "create-cred-config" in setup and '"$GCP_SA_KEY"' in setup
    assert "GOOGLE_APPLICATION_CREDENTIALS" in setup  # the Compute client's ADC
    assert gitlab["gameday"]["id_tokens"]["GITLAB_OIDC_TOKEN"]["aud"].startswith(
        "https://iam.googleapis.com/")


def test_gitlab_job_verdict_is_pytests_and_reports_are_always_kept(
        gitlab: dict[str, Any]) -> None:
    job = gitlab["gameday"]
    command = pytest_line(job["script"])
    assert command.startswith(GAMEDAY_COMMAND)
    assert_known_flags(command)
    assert "allow_failure" not in job
    assert not any("|| true" in line or "set +e" in line for line in job["script"])
    assert job["artifacts"]["when"] == "always"
    assert "reports/" in job["artifacts"]["paths"]
    assert job["artifacts"]["reports"]["junit"].startswith("reports/")
    recover = [line for line in job["after_script"] if line.startswith("gameday recover")]
    assert len(recover) == 1
    assert_recover_parses(recover[0])


# -- GitHub Actions --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def github() -> dict[str, Any]:
    return load("github-actions.yml")


def steps(github: dict[str, Any]) -> list[dict[str, Any]]:
    return github["jobs"]["gameday"]["steps"]


def test_github_runs_on_schedule(github: dict[str, Any]) -> None:
    triggers = github[True]  # YAML 1.1 reads the bare key `on` as boolean true
    assert triggers["schedule"]
    for entry in triggers["schedule"]:
        assert_cron(entry["cron"])
    assert github["permissions"]["id-token"] == "write"  # needed by workload identity


def test_github_installs_authenticates_and_gets_credentials(github: dict[str, Any]) -> None:
    runs = [s.get("run", "") for s in steps(github)]
    assert "pip install ." in runs
    auth = [s["with"] for s in steps(github)
            if s.get("uses", "").startswith("google-github-actions/auth@")]
    assert {"workload_identity_provider", "credentials_json"} <= {k for a in auth for k in a}
    gcloud = next(s for s in steps(github)
                  if s.get("uses", "").startswith("google-github-actions/setup-gcloud@"))
    assert "gke-gcloud-auth-plugin" in gcloud["with"]["install_components"]
    assert any("gcloud container clusters get-credentials" in one_line(r) for r in runs)


def test_github_job_verdict_is_pytests_and_reports_are_always_kept(
        github: dict[str, Any]) -> None:
    command = pytest_line([s.get("run", "") for s in steps(github)])
    assert command.startswith(GAMEDAY_COMMAND)
    assert_known_flags(command)
    game_day = next(s for s in steps(github) if one_line(s.get("run", "")) == command)
    assert not game_day.get("continue-on-error") and "if" not in game_day
    upload = next(s for s in steps(github)
                  if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "${{ always() }}" and upload["with"]["path"] == "reports/"
    recover = next(s for s in steps(github) if s.get("run", "").startswith("gameday recover"))
    assert "failure()" in recover["if"] and "cancelled()" in recover["if"]
    assert_recover_parses(recover["run"])
