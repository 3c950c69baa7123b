"""pytest hooks that gather each test's facts while the run is alive and write the reports at
session end. Registered by gameday's plugin (`config.pluginmanager.import_plugin`).

When things are gathered, and why then:
- after the `gameday` fixture's teardown (`pytest_fixture_post_finalizer`): its evidence is
  final, and Prometheus is still up — a lab started by the run is stopped with the session
  fixtures, before the last test's teardown report and long before session end;
- on each report (`pytest_runtest_makereport`): outcome per phase and whether the call failed
  on an assertion (judged) or on anything else (an error); at teardown, the Allure steps;
- at session end: the file reports, once, for every test the session ran.

Light on import: plotly, jinja2 and allure load only when a report is written.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gameday.reports.model import RunRecord, TestRecord

if TYPE_CHECKING:
    from gameday.reports.redact import Redactor
    from gameday.run import RunContext

RECORDS_KEY = pytest.StashKey[dict[str, TestRecord]]()
STARTED_KEY = pytest.StashKey[dt.datetime]()
RESULT_KEY = pytest.StashKey[str]()
KUBE_VERSION_KEY = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[RECORDS_KEY] = {}
    config.stash[STARTED_KEY] = dt.datetime.now(dt.UTC)


def _record(config: pytest.Config, nodeid: str) -> TestRecord:
    return config.stash[RECORDS_KEY].setdefault(nodeid, TestRecord(nodeid))


def _run(config: pytest.Config) -> RunContext | None:
    from gameday.plugin import RUN_KEY

    return config.stash.get(RUN_KEY, None)


def _resolved_target(run: RunContext | None) -> Any:
    """The run's target only if a test already resolved it: resolving may start a lab."""
    return run.__dict__.get("target") if run is not None else None


def pytest_fixture_post_finalizer(fixturedef: pytest.FixtureDef[Any],
                                  request: pytest.FixtureRequest) -> None:
    if fixturedef.argname != "gameday" or fixturedef.cached_result is None:
        return
    day = fixturedef.cached_result[0]
    evidence = getattr(day, "evidence", None)
    if evidence is None:  # the fixture's setup failed: no game day to report
        return
    record = _record(request.config, request.node.nodeid)
    record.evidence = evidence.to_dict()
    record.test_dir = day.dir
    run = _run(request.config)
    if run is not None and "kube" in run.__dict__ and KUBE_VERSION_KEY not in request.config.stash:
        request.config.stash[KUBE_VERSION_KEY] = _server_version(run)
    target = _resolved_target(run)
    span = record.span
    if target is not None and target.prometheus_url and span and not day.dry_run:
        from gameday.reports.readiness import fetch_ready_pods

        record.zones = fetch_ready_pods(
            target.prometheus_url, day.settings.prometheus_headers, *span,
            namespace=record.evidence["parameters"].get("app_namespace"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[None]:
    report = yield
    record = _record(item.config, item.nodeid)
    record.outcome[report.when] = report.outcome
    record.duration_s += report.duration
    if report.failed and not record.error_text:
        record.error_text = str(report.longreprtext)[-4000:]
        record.assertion_failed = report.when == "call" and call.excinfo is not None and \
            call.excinfo.errisinstance(AssertionError)
    if report.when == "teardown" and record.evidence:
        _to_allure(item.config, record)
    return report


def _to_allure(config: pytest.Config, record: TestRecord) -> None:
    from gameday.faults.ledger import LEDGER_NAME
    from gameday.reports.allure_sink import add_to_allure, allure_reporter

    reporter = allure_reporter(config)
    run = _run(config)
    if reporter is not None:
        add_to_allure(reporter, record, _redactor(config),
                      run.run_dir / LEDGER_NAME if run is not None else None)


def _redactor(config: pytest.Config) -> Redactor:
    from gameday.plugin import SETTINGS_KEY
    from gameday.reports.redact import Redactor, run_secrets

    settings = config.stash[SETTINGS_KEY]
    target = _resolved_target(_run(config))
    kubeconfig = target.kubeconfig if target is not None else settings.kubeconfig
    return Redactor(run_secrets(settings.prometheus_headers, kubeconfig))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the reports of a session that ran a game day (no run folder: nothing to do)."""
    config = session.config
    run = _run(config)
    if run is None or not run.run_dir.exists():
        return
    from gameday.reports.allure_html import AllureReportError, generate_allure_html
    from gameday.reports.build import write_reports

    record = RunRecord(run.run_id, config.stash[STARTED_KEY], dt.datetime.now(dt.UTC),
                       environment(config, run), list(config.stash[RECORDS_KEY].values()),
                       links(config, run.run_dir))
    try:
        allure = config.getoption("allure_report_dir", None)
        if allure and (page := generate_allure_html(Path(allure), run.run_dir / "allure",
                                                    f"gameday {run.run_id}")):
            record.links["Allure report"] = page.relative_to(run.run_dir).as_posix()
        written = write_reports(record, run.run_dir, _redactor(config))
    except (OSError, AllureReportError) as exc:
        config.stash[RESULT_KEY] = f"gameday: the reports could not be written: {exc}"
        return
    config.stash[RESULT_KEY] = (f"gameday report: {written.index} ({written.seconds:.2f}s); "
                                f"trend: {written.trend_html}")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if RESULT_KEY in config.stash:
        terminalreporter.write_line(config.stash[RESULT_KEY])


def environment(config: pytest.Config, run: RunContext) -> dict[str, str]:
    """Environment rows: the target (names and URLs only), versions, header names."""
    import platform

    import gameday
    from gameday.plugin import SETTINGS_KEY
    from gameday.reports.redact import header_rows

    rows = {"python": platform.python_version(), "pytest": pytest.__version__,
            "gameday": getattr(gameday, "__version__", "dev"), "run_folder": str(run.run_dir)}
    target = _resolved_target(run)
    if target is None:
        rows["target"] = "(not resolved: no test reached the cluster)"
    else:
        rows.update(target.describe())
        if target.lab is not None:
            rows["lab_folder"] = str(target.lab.dir)
        rows["kubernetes"] = config.stash.get(KUBE_VERSION_KEY, "(not asked)")
    rows.update(header_rows(config.stash[SETTINGS_KEY].prometheus_headers))
    return rows


def _server_version(run: RunContext) -> str:
    from gameday.errors import GamedayError

    try:
        major, minor = run.kube.server_version()
    except GamedayError as exc:
        return f"(unknown: {exc})"
    return f"{major}.{minor}"


def links(config: pytest.Config, run_dir: Path) -> dict[str, str]:
    """Relative links from the run page: its sibling files and pytest-html's page, if any."""
    found = {"summary.json": "summary.json", "junit.xml": "junit.xml",
             "trend across runs": "../trend.html"}
    html = config.getoption("htmlpath", None)
    if html:
        found["pytest-html report"] = os.path.relpath(Path(html).resolve(), run_dir)
    return found
