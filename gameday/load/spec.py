"""What load to send during a game day: the one user-facing description of a Locust run.

Validated on construction, so a typo in a scenario fails before any fault is injected rather
than after the cluster is already broken and the load never started.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from gameday.errors import UsageError

# The longest a run may be asked for, and the hard deadline of a run without run_time_s. It
# is not what ends the load of a dead harness (the parent-death signal and the lease do, within
# seconds: gameday/load/runner.py), nor of a game day's load (GameDay renews the lease only up
# to its last planned step plus a margin), only of a harness alive and renewing for too long.
SAFETY_CAP_S = 3600.0

# Options LoadRun sets itself: passing them again would silently fight the runner.
_RESERVED_ARGS = frozenset({
    "-f", "--locustfile", "-H", "--host", "-u", "--users", "-r", "--spawn-rate", "-t",
    "--run-time", "--csv", "--csv-full-history", "--json-file", "--headless", "--master",
    "--worker", "--processes", "--master-bind-host", "--master-bind-port", "--master-host",
    "--master-port", "--expect-workers", "--logfile", "--web-port", "--autostart",
})


@dataclass(frozen=True)
class LoadSpec:
    """A Locust run: who sends what, to which host, for how long.

    locustfile None means the default user: one FastHttpUser sending GET / with no wait, the
    most load one process can give (~9,500 rps here). A user's own locustfile is used as is,
    with HttpUser or FastHttpUser classes and, optionally, LoadTestShape classes; `shape` names
    the one to use when the file has several (Locust alone would take the first one).
    user_classes restricts the run to those User classes of the file. host replaces the `host`
    attribute of every User class, as Locust's --host does (absolute URLs in requests still go
    where they say).
    workers 0 runs one process; N > 0 runs a master and N worker processes, for more load than
    one core gives. remote_workers M > 0 makes the master also wait for M workers you start
    elsewhere (pods in your cluster, other machines) with `LoadRun.remote_worker_command()`:
    it listens on master_bind:master_port (a fixed port, so workers can be started first; they
    retry for 5 minutes). Only local workers feed the client-side Prometheus metrics; the
    run's totals and timeline (from the master) include every worker.
    run_time_s None runs until LoadRun.stop(), at most SAFETY_CAP_S, and in a game day at most
    a margin past the scenario's last planned step; a run_time_s given always wins.
    """

    host: str
    users: int = 20
    spawn_rate: float = 20
    locustfile: Path | None = None
    user_classes: list[str] | None = None
    shape: str | None = None
    workers: int = 0
    remote_workers: int = 0
    master_bind: str = "127.0.0.1"
    master_port: int | None = None
    run_time_s: float | None = None
    extra_args: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _check_host(self.host)
        if self.users < 1:
            raise UsageError(f"LoadSpec.users must be at least 1, got {self.users}")
        if self.spawn_rate <= 0:
            raise UsageError(f"LoadSpec.spawn_rate must be > 0 users/s, got {self.spawn_rate}")
        if self.workers < 0:
            raise UsageError(f"LoadSpec.workers must be 0 (one process) or more: {self.workers}")
        self._check_remote_workers()
        if self.run_time_s is not None and not 0 < self.run_time_s <= SAFETY_CAP_S:
            raise UsageError(
                f"LoadSpec.run_time_s must be in (0, {SAFETY_CAP_S:g}] seconds, got "
                f"{self.run_time_s}; use None to run until stop()"
            )
        if self.locustfile is not None:
            path = Path(self.locustfile)
            if not path.is_file() or path.suffix != ".py":
                raise UsageError(
                    f"LoadSpec.locustfile {path} is not an existing .py file; give the path of "
                    "your locustfile, or None for the default user"
                )
            object.__setattr__(self, "locustfile", path.resolve())
        elif self.shape is not None or self.user_classes:
            raise UsageError(
                "LoadSpec.shape and user_classes select classes of your own locustfile: "
                "set locustfile too"
            )
        if self.user_classes is not None and not self.user_classes:
            raise UsageError("LoadSpec.user_classes is empty: give None to use every User class")
        reserved = sorted(_RESERVED_ARGS.intersection(a.split("=", 1)[0] for a in self.extra_args))
        if reserved:
            raise UsageError(
                f"LoadSpec.extra_args sets {', '.join(reserved)}, which LoadRun sets itself; use "
                "the LoadSpec fields instead"
            )
        object.__setattr__(self, "extra_args", tuple(self.extra_args))

    def _check_remote_workers(self) -> None:
        if self.remote_workers < 0:
            raise UsageError(f"LoadSpec.remote_workers must be 0 or more: {self.remote_workers}")
        if self.master_port is not None and not 1024 <= self.master_port <= 65534:
            raise UsageError(f"LoadSpec.master_port must be in 1024..65534 (Locust also uses "
                             f"the next port): {self.master_port}")
        if not self.remote_workers:
            return
        if self.workers < 1:
            raise UsageError("LoadSpec.remote_workers join local ones: set workers >= 1 too (a "
                             "local worker shows the run started and feeds Prometheus)")
        if self.master_port is None:
            raise UsageError("LoadSpec.remote_workers need a known master port to connect to: "
                             "set master_port, e.g. 5557")

    @property
    def time_limit_s(self) -> float:
        """How long Locust may run at most: the requested run time or the safety cap."""
        return self.run_time_s if self.run_time_s is not None else SAFETY_CAP_S


def _check_host(host: str) -> None:
    """Reject hosts Locust would only fail on after starting (or send to a wrong place)."""
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"LoadSpec.host {host!r} is not a URL like http://127.0.0.1:8080; give scheme and host"
        )
    if parts.query or parts.fragment:
        raise UsageError(
            f"LoadSpec.host {host!r} has a query or fragment; give scheme://host[:port][/base] "
            "and put queries in your locustfile's requests"
        )
