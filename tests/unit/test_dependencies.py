"""pyproject.toml declares what gameday imports: every package the core imports (gameday/
outside the lab) is a dependency, the `lab` extra holds what only the lab needs, and reaching
for the lab without it is one line naming the extra."""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import gameday
from gameday.extras import LAB_MODULES
from tests.conftest import ROOT

PACKAGE = Path(gameday.__file__).parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    """The normalized distribution name of a requirement string."""
    return re.sub(r"[-_.]+", "-", re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]).lower()


CORE = {_name(r) for r in PROJECT["dependencies"]}
LAB = {_name(r) for r in PROJECT["optional-dependencies"]["lab"]}


def lab_side(path: Path) -> bool:
    """The lab, and the testing kits shipped for tests (they start lab pieces)."""
    return path.relative_to(PACKAGE).parts[0] == "lab" or path.name == "testing.py"


@cache
def owners() -> dict[str, str]:
    """Installed module file (as in the distribution's RECORD, e.g. `yaml/__init__.py`) ->
    normalized name of the distribution that installed it. Read, never imported: importing
    Locust would monkey-patch this process."""
    return {str(file): _name(dist.metadata["Name"]) for dist in md.distributions()
            for file in dist.files or () if file.suffix == ".py"}


def distribution(module: str) -> str | None:
    """Who provides `module`, by its longest prefix that is a file of some distribution (None:
    the standard library, gameday itself, a namespace package such as `google.cloud`, or a
    name that is no module)."""
    parts = module.split(".")
    if parts[0] in sys.stdlib_module_names or parts[0] in ("gameday", "__future__"):
        return None
    for end in range(len(parts), 0, -1):
        path = "/".join(parts[:end])
        for file in (f"{path}.py", f"{path}/__init__.py"):
            if file in owners():
                return owners()[file]
    return None


def imported(paths: list[Path]) -> dict[str, set[str]]:
    """Distribution -> the gameday files importing it directly."""
    out: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                # `from google.cloud import compute_v1`: the package is the imported name
                modules = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            top = modules[0].split(".")[0]
            dists = {d for m in modules if (d := distribution(m))}
            assert dists or top in sys.stdlib_module_names or top in ("gameday", "__future__"), \
                f"{path}: {modules[0]} is not installed"
            for dist in dists:
                out.setdefault(dist, set()).add(str(path.relative_to(PACKAGE)))
    return out


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_the_core_declares_every_package_it_imports() -> None:
    used = imported([p for p in SOURCES if not lab_side(p)])
    assert {d: sorted(f) for d, f in used.items() if d not in CORE} == {}
    assert {d: sorted(f) for d, f in used.items() if d in LAB} == {}  # lab-only means it


def test_the_lab_extra_covers_what_only_the_lab_imports() -> None:
    used = imported([p for p in SOURCES if lab_side(p)])
    assert {d: sorted(f) for d, f in used.items() if d not in CORE | LAB} == {}
    assert set(used) >= LAB  # nothing in the extra that the lab does not import
    assert LAB_MODULES == LAB  # the names the "install the extra" message knows


def test_the_dev_install_includes_the_lab() -> None:
    assert "gameday[lab]" in PROJECT["optional-dependencies"]["dev"]  # make test / make demo


WITHOUT_AIOHTTP = """
import importlib.abc, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "aiohttp":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NotInstalled())
from gameday.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_lab_without_its_extra_is_one_line(tmp_path: Path) -> None:
    """As on a machine where `pip install gameday` left aiohttp out (hidden from the import
    system, the rest of the install unchanged)."""
    proc = subprocess.run([sys.executable, "-c", WITHOUT_AIOHTTP, "lab", "status",
                           "--state-dir", str(tmp_path)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == ("gameday: error: the embedded lab needs aiohttp, which is not "
                           "installed: pip install 'gameday[lab]'\n")
