"""gameday's pytest plugin (entry point `pytest11`): options, fixtures, and the safety nets.

Imports nothing heavy at module level: this file loads in every pytest run of an environment
where gameday is installed, including runs that never touch a cluster.

Safety nets, outermost last:
- `with gameday.inject(fault):` reverts on pass, assertion failure and exception;
- SIGTERM is turned into KeyboardInterrupt, so the same `with` blocks unwind on it and Ctrl-C;
- the `gameday` fixture's teardown reverts any fault the test left injected;
- session end replays whatever the run's ledger still holds open;
- after a SIGKILL, `gameday recover` replays the ledger from the run folder.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gameday.errors import GamedayError
from gameday.settings import OPTIONS, Settings, ini_name, resolve

if TYPE_CHECKING:
    from gameday.gameday import GameDay
    from gameday.narration import Narrator
    from gameday.run import RunContext

SETTINGS_KEY = pytest.StashKey[Settings]()
RUN_KEY = pytest.StashKey["RunContext"]()
OUTCOME_KEY = pytest.StashKey[dict[str, Any]]()
UNKNOWN_KEYS_KEY = pytest.StashKey[str]()


class Terminated(KeyboardInterrupt):
    """SIGTERM, delivered as an interrupt so every `with` block and fixture teardown runs."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gameday", "gameday: game days on Kubernetes")
    for option in OPTIONS:
        kwargs: dict[str, Any] = {"dest": f"gameday_{option.name}", "help": option.help}
        if option.kind == "bool":
            kwargs["action"] = "store_true"
        elif option.kind == "list":
            kwargs["action"] = "append"
        group.addoption(option.flag, **kwargs)
        parser.addini(ini_name(option), option.help,
                      type="linelist" if option.kind == "list" else "string")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "gameday: a game-day scenario (faults, load, SLO verdicts) — see gameday docs")
    try:
        settings = resolve(lambda n: config.getoption(f"gameday_{n}"),
                           lambda n: config.getini(n))
    except GamedayError as exc:
        raise pytest.UsageError(f"gameday: {exc}") from exc
    config.stash[SETTINGS_KEY] = settings
    config.pluginmanager.import_plugin("gameday.reports.plugin")  # reports at session end
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated("SIGTERM received: reverting faults and stopping load")


def _run(config: pytest.Config) -> RunContext:
    if RUN_KEY not in config.stash:
        from gameday.run import RunContext

        config.stash[RUN_KEY] = RunContext(config.stash[SETTINGS_KEY],
                                           narrator=_narrator(config))
    return config.stash[RUN_KEY]


def _narrator(config: pytest.Config) -> Narrator:
    """Live progress on pytest's terminal, around its output capture (`-qq`: none)."""
    from gameday.narration import Narrator

    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is None or config.get_verbosity() < -1:
        return Narrator(quiet=True)
    capture = config.pluginmanager.get_plugin("capturemanager")
    live = capture.global_and_fixture_disabled if capture else contextlib.nullcontext
    writer = _TerminalLines(terminal, live)
    config.pluginmanager.register(writer, "gameday-narration")
    return Narrator(writer.write, live)


class _TerminalLines:
    """Writes whole lines on pytest's terminal, starting a new line after a test's result
    letter or word (pytest leaves the cursor after it, and `ensure_newline` only knows about
    the file name it printed)."""

    def __init__(self, terminal: Any, live: Any) -> None:
        self._terminal = terminal
        self._live = live
        self._after_result = False

    def write(self, line: str) -> None:
        with self._live():
            if self._after_result:
                self._terminal.write("\n")
                self._after_result = False
            self._terminal.ensure_newline()
            self._terminal.write_line(line)

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or not report.passed:
            self._after_result = True

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logstart(self) -> None:
        self._after_result = False  # pytest has just started the next test's line itself


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A scenario that takes a `zone` argument runs once per zone of the target."""
    if "zone" in metafunc.fixturenames and not any(
            "zone" in m.args[0] for m in metafunc.definition.iter_markers("parametrize")):
        try:
            zones = _run(metafunc.config).zones()
        except GamedayError as exc:
            exc.add_note(f"(while listing the target's zones to run "
                         f"{metafunc.function.__name__} in each; --gameday-set zones=Z1,Z2 "
                         "names them instead)")
            raise
        metafunc.parametrize("zone", zones)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    """A collection-time error of ours (no cluster to list zones from, a lab that will not
    start) is one line, as at test time: pytest would print the harness's frames and the
    chained cause, which only bury the message that says what to fix."""
    report = yield
    call = getattr(report, "call", None)  # pytest sets it on the reports it makes
    excinfo = call.excinfo if call is not None else None
    if report.failed and excinfo is not None and excinfo.errisinstance(GamedayError) \
            and _short_errors(collector.config):
        notes = "".join(f"\n  {note}" for note in getattr(excinfo.value, "__notes__", ()))
        report.longrepr = (f"{excinfo.typename}: {excinfo.value}{notes}\n"
                           "  (--tb=long shows the traceback)")
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[None]:
    report = yield
    if report.failed and call.excinfo is not None and _short_errors(item.config) \
            and call.excinfo.errisinstance(GamedayError):
        report.longrepr = _short_repr(item, call.excinfo)
    outcomes = item.stash.setdefault(OUTCOME_KEY, {})
    outcomes[report.when] = report.outcome
    if report.failed and report.longrepr is not None:
        outcomes[f"{report.when}_error"] = str(report.longreprtext)[-4000:]
    return report


def _short_errors(config: pytest.Config) -> bool:
    """Our errors already say what to fix: a traceback through gameday's internals only hides
    that. `--tb=long` or `--full-trace` brings it back."""
    return not config.getoption("fulltrace") and config.getoption("tbstyle") in ("auto", "short")


def _short_repr(item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    """`UsageError: message`, and the line of the test's own folder that led to it."""
    folder = item.path.parent
    own = [entry for entry in excinfo.traceback  # path is a str for exec'd code
           if isinstance(entry.path, Path) and entry.path.parent == folder]
    where = f"\n  at {own[-1].path.name}:{own[-1].lineno + 1}" if own else ""
    return f"{excinfo.typename}: {excinfo.value}{where}\n  (--tb=long shows the traceback)"


@pytest.fixture(scope="session")
def gameday_settings(pytestconfig: pytest.Config) -> Settings:
    """The resolved gameday options of this session."""
    return pytestconfig.stash[SETTINGS_KEY]


@pytest.fixture(scope="session")
def gameday_run(pytestconfig: pytest.Config) -> Iterator[RunContext]:
    """The session's run: folder, ledger, target; reverts leftovers and stops its lab at end."""
    run = _run(pytestconfig)
    try:
        yield run
    finally:
        for line in run.close():
            run.narrator.say(f"session end: {line}")


@pytest.fixture
def gameday(gameday_run: RunContext, request: pytest.FixtureRequest) -> Iterator[GameDay]:
    """The game-day API for one scenario: phases, load, faults, SLO verdicts, evidence."""
    from gameday.gameday import GameDay

    gameday_run.check_prometheus()  # a bad Prometheus credential: stop before any fault
    day = GameDay(gameday_run, request.node)
    try:
        yield day
    finally:
        outcome = request.node.stash.get(OUTCOME_KEY, {})
        if "call" in outcome:  # the body ran: its `--gameday-set` reads are recorded
            gameday_run.overrides.scenario_ran = True
        day.close(outcome)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """A `--gameday-set` key that no scenario of the run asked for is a usage error (see
    gameday/scenario_values.py for why it can only be told at the end)."""
    run = session.config.stash.get(RUN_KEY, None)
    if run is None or "overrides" not in run.__dict__:
        return
    if message := run.overrides.unknown():
        session.config.stash[UNKNOWN_KEYS_KEY] = message
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if message := config.stash.get(UNKNOWN_KEYS_KEY, None):
        terminalreporter.write_sep("=", "gameday usage error", red=True, bold=True)
        terminalreporter.write_line(f"UsageError: {message}", red=True)
