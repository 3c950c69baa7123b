"""Optional parts of gameday and the packages they need beyond the core install.

The embedded lab (gameday/lab/) serves a control plane, a Compute Engine API and a load
balancer from this machine: aiohttp, cryptography and multidict are its own, and a GKE user
installs `gameday` without them. Reaching for the lab without them must say which extra to
install, not end in an import traceback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from gameday.errors import UsageError

# import names of the `lab` extra in pyproject.toml (tests/unit/test_dependencies.py checks it)
LAB_MODULES = frozenset({"aiohttp", "cryptography", "multidict"})


@contextlib.contextmanager
def lab_extra(alternative: str = "") -> Iterator[None]:
    """Around code that starts or reads the lab: a missing lab package becomes a usage error
    naming the install command (and `alternative`, a way that needs no lab)."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in LAB_MODULES:
            raise
        raise UsageError(f"the embedded lab needs {exc.name}, which is not installed: "
                         f"pip install 'gameday[lab]'{alternative}") from exc
