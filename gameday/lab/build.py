"""`gameday lab install`: get every lab binary onto this machine, building Kubernetes if needed.

Debian ships Kubernetes only as source (package `kubernetes`, 1.20) plus a kubectl binary, so the
server binaries are built from that source with the tree's own `make WHAT=...`, then cached under
~/.cache/gameday/k8s/<version>+<BUILD_TAG>/bin: the build takes minutes once, later runs find
the cache.
The vendored reflect2 1.0.1 crashes kube-apiserver under Go >= 1.18 (`fatal error: fault` in
mapiterinit), so it is replaced by Debian's 1.0.2 copy before building.

One source change makes the lab's network work: the apiserver refuses to proxy to loopback
addresses ("address not allowed", a guard against reaching the apiserver's own host), and every
lab pod IP is loopback (127.B.x.y), so `pods/NAME:PORT/proxy` (how gameday drives in-cluster
Locust) would fail. The patch drops only the loopback test; link-local stays refused. The cache
folder carries BUILD_TAG, so a build without the current patches is rebuilt, not reused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from gameday.errors import LabError
from gameday.lab import binaries
from gameday.progress import Step

APT_PACKAGES = {
    "etcd": "etcd-server",
    "prometheus": "prometheus",
}
BUILD_PACKAGES = ["golang-go", "golang-github-modern-go-reflect2-dev", "rsync", "dpkg-dev"]
REFLECT2_SRC = Path("/usr/share/gocode/src/github.com/modern-go/reflect2")
SOURCES_FILE = Path("/etc/apt/sources.list.d/gameday-deb-src.sources")
# bump when the source changes below change: a cached build under another tag is stale
BUILD_TAG = "lab2"
# (file in the tree, exact text, replacement); each must match exactly once
SOURCE_PATCHES = (
    ("pkg/proxy/util/utils.go",
     "if ip.IsLoopback() || ip.IsLinkLocalUnicast()", "if ip.IsLinkLocalUnicast()"),
)


def _run(argv: list[str], step: Step | None = None, cwd: Path | None = None,
         env: dict[str, str] | None = None, timeout_s: float = 1800) -> None:
    """Run a command, streaming its last output line into the progress step."""
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **(env or {})},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as exc:
        raise LabError(f"could not run {argv[0]}: {exc}") from exc
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip())
        del lines[:-40]
        if step and line.strip():
            step.update(line)
    try:
        rc = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        raise LabError(f"{' '.join(argv[:3])} did not finish in {timeout_s:.0f}s") from exc
    if rc != 0:
        raise LabError(f"`{' '.join(argv)}` failed (exit {rc}):\n" + "\n".join(lines[-20:]))


def _is_debian() -> bool:
    return Path("/etc/debian_version").exists() and shutil.which("apt-get") is not None


def _apt_installed(package: str) -> bool:
    out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True,
                         text=True, check=False)
    return out.returncode == 0 and "install ok installed" in out.stdout


def _enable_deb_src() -> None:
    """Add deb-src entries mirroring the configured `deb` suites (deb822 or one-line format)."""
    if SOURCES_FILE.exists():
        return
    stanzas = []
    for path in Path("/etc/apt/sources.list.d").glob("*.sources"):
        for block in path.read_text().split("\n\n"):
            fields = dict(
                line.split(":", 1) for line in block.splitlines()
                if ":" in line and not line.startswith("#")
            )
            if "deb" in fields.get("Types", "").split():
                keep = ["URIs", "Suites", "Components", "Signed-By"]
                stanzas.append("Types: deb-src\n" + "\n".join(
                    f"{k}:{fields[k]}" for k in keep if k in fields))
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            if line.startswith("deb "):
                stanzas.append("#one-line\n" + "deb-src " + line[4:])
    if not stanzas:
        raise LabError("no apt sources found to derive deb-src entries from; add deb-src for "
                       "your Debian suites and re-run `gameday lab install`")
    one_line = [s.split("\n", 1)[1] for s in stanzas if s.startswith("#one-line")]
    deb822 = [s for s in stanzas if not s.startswith("#one-line")]
    if deb822:
        SOURCES_FILE.write_text("\n\n".join(deb822) + "\n")
    if one_line:
        SOURCES_FILE.with_suffix(".list").write_text("\n".join(one_line) + "\n")


def _source_version() -> str:
    out = subprocess.run(["apt-cache", "showsrc", "kubernetes"], capture_output=True, text=True,
                         check=False)
    for line in out.stdout.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    raise LabError("apt knows no source package `kubernetes`; this needs Debian 12 (bookworm) "
                   "or a release that ships it, with deb-src enabled")


def _patch_reflect2(tree: Path) -> None:
    vendored = tree / "vendor/github.com/modern-go/reflect2"
    if not REFLECT2_SRC.is_dir():
        raise LabError(f"{REFLECT2_SRC} is missing: apt-get install "
                       "golang-github-modern-go-reflect2-dev")
    shutil.rmtree(vendored, ignore_errors=True)
    vendored.mkdir(parents=True)
    for f in REFLECT2_SRC.iterdir():
        if f.suffix in (".go", ".s") and not f.name.endswith("_test.go"):
            shutil.copy2(f, vendored / f.name)


def _patch_sources(tree: Path) -> None:
    """Apply SOURCE_PATCHES; a source that does not match fails the build, never half-patches."""
    for rel, old, new in SOURCE_PATCHES:
        path = tree / rel
        text = path.read_text()
        if text.count(new) and not text.count(old):
            continue  # already applied (a kept tree)
        if text.count(old) != 1:
            raise LabError(f"cannot patch {path}: expected `{old}` once, found it "
                           f"{text.count(old)} times (a different Kubernetes source?)")
        path.write_text(text.replace(old, new))


def _build_key(version: str) -> str:
    return f"{version}+{BUILD_TAG}"


def _stale_builds() -> list[Path]:
    """Our cached builds made before the current patches (their folder lacks BUILD_TAG)."""
    root = binaries.cache_dir() / "k8s"
    return [d for d in root.iterdir() if d.is_dir() and not d.name.endswith(f"+{BUILD_TAG}")
            ] if root.is_dir() else []


def _uses_stale_build() -> bool:
    """The Kubernetes binaries found are a stale build of ours (user-provided ones are kept)."""
    found = binaries.find("kube-apiserver")
    return found is not None and found.parent.parent in _stale_builds()


def build_kubernetes(step: Step) -> Path:
    """Fetch Debian's kubernetes source, patch, build the three servers, cache; return bin dir."""
    src_root = binaries.cache_dir() / "src"
    src_root.mkdir(parents=True, exist_ok=True)
    step.update("enabling deb-src and updating apt lists")
    _enable_deb_src()
    _run(["apt-get", "update", "-qq"], step)
    version = _source_version()
    bin_dir = binaries.cache_dir() / "k8s" / _build_key(version) / "bin"
    tree = src_root / f"kubernetes-{version.split('-')[0]}"
    if not tree.is_dir():
        step.update("apt-get source kubernetes")
        for old in src_root.glob("kubernetes-*"):
            if old.is_dir():
                shutil.rmtree(old)
        _run(["apt-get", "source", "-qq", "kubernetes"], step, cwd=src_root)
        trees = [d for d in src_root.glob("kubernetes-*") if d.is_dir()]
        if not trees:
            raise LabError(f"apt-get source kubernetes unpacked nothing into {src_root}")
        tree = trees[0]
    _patch_reflect2(tree)
    _patch_sources(tree)
    gopath = tree / ".go"
    link = gopath / "src/k8s.io/kubernetes"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(tree)
    step.update("go build (several minutes on 2 cores)")
    whats = " ".join(f"cmd/{b}" for b in binaries.K8S_BINARIES)
    _run(["make", f"WHAT={whats}"], step, cwd=tree,
         env={"GOPATH": str(gopath), "CGO_ENABLED": "0", "GOFLAGS": "-mod=vendor"})
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in binaries.K8S_BINARIES:
        shutil.copy2(tree / "_output/bin" / name, bin_dir / name)
    shutil.rmtree(tree)  # 2+ GB of build tree; the binaries are what we keep
    for stale in _stale_builds():  # never picked again, whatever their folders' mtimes
        shutil.rmtree(stale, ignore_errors=True)
    return bin_dir


def install(quiet: bool = False) -> dict[str, Path]:
    """Make every lab binary available; idempotent and fast when everything is found."""
    missing = binaries.missing()
    if missing and not _is_debian():
        raise LabError(
            f"missing lab binaries: {', '.join(missing)}. Automatic install needs Debian/Ubuntu "
            "with apt. Elsewhere install etcd and prometheus from your package manager and put "
            "kube-apiserver, kube-controller-manager and kube-scheduler (1.20 or newer, e.g. "
            "envtest or release binaries) in a folder named by $GAMEDAY_K8S_BIN."
        )
    apt = [APT_PACKAGES[b] for b in missing if b in APT_PACKAGES]
    rebuild = _is_debian() and _uses_stale_build()
    if rebuild or any(b in binaries.K8S_BINARIES for b in missing):
        apt += [p for p in BUILD_PACKAGES if not _apt_installed(p)]
    if apt:
        with Step(f"apt-get install {' '.join(apt)}", quiet=quiet) as step:
            _run(["apt-get", "update", "-qq"], step)
            _run(["apt-get", "install", "-y", "-qq", *apt], step,
                 env={"DEBIAN_FRONTEND": "noninteractive"})
    if rebuild or any(b in binaries.K8S_BINARIES for b in binaries.missing()):
        with Step("building Kubernetes from Debian's source package", quiet=quiet) as step:
            build_kubernetes(step)
    return dict(binaries.resolve().paths)
