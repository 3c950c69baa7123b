"""Find the lab's server binaries: $GAMEDAY_K8S_BIN, then PATH, then gameday's build cache.

Finding is cheap and has no side effects; building them is `gameday.lab.build`'s job.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from gameday.errors import LabError

K8S_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
OTHER_BINARIES = ("etcd", "prometheus")
ALL_BINARIES = K8S_BINARIES + OTHER_BINARIES


def cache_dir() -> Path:
    """Where built binaries live between runs (survives `lab down --purge` and fresh clones)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gameday"


def cached_bin_dirs() -> list[Path]:
    """Every cached build's bin folder, newest first."""
    root = cache_dir() / "k8s"
    if not root.is_dir():
        return []
    dirs = [d / "bin" for d in root.iterdir() if (d / "bin").is_dir()]
    return sorted(dirs, key=lambda d: d.stat().st_mtime, reverse=True)


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find(name: str) -> Path | None:
    """Resolve one binary by the documented search order; None when it is nowhere."""
    env_dir = os.environ.get("GAMEDAY_K8S_BIN")
    if env_dir and _executable(Path(env_dir) / name):
        return Path(env_dir) / name
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    for d in cached_bin_dirs():
        if _executable(d / name):
            return d / name
    return None


@dataclass(frozen=True)
class Binaries:
    """Resolved paths of every binary `lab up` starts."""

    paths: dict[str, Path]

    def __getitem__(self, name: str) -> Path:
        return self.paths[name]


def missing() -> list[str]:
    return [n for n in ALL_BINARIES if find(n) is None]


def resolve() -> Binaries:
    """All binaries, or a LabError that says exactly how to get the missing ones."""
    absent = missing()
    if absent:
        raise LabError(
            f"missing lab binaries: {', '.join(absent)}. Run `gameday lab install` (Debian/Ubuntu:"
            " installs etcd-server and prometheus, builds Kubernetes from the distribution's "
            "source package), or point $GAMEDAY_K8S_BIN at a folder holding kube-apiserver, "
            "kube-controller-manager, kube-scheduler and etcd (e.g. envtest binaries)."
        )
    return Binaries({n: find(n) for n in ALL_BINARIES})  # type: ignore[misc]
