"""`State`: a named cluster state a scenario runs in — manifests plus knobs.

Why a value object: a scenario compares states (with and without a PDB, ScheduleAnyway vs
DoNotSchedule) by parametrizing over them, so a state must be a plain, printable value (its name
is the test id and the evidence parameter `state`). Rendering it reads files and runs the knobs;
it writes nothing.

Sources: a YAML/JSON file (several documents), a folder of them (sorted, recursively), or
objects built in Python (dicts). A `kind: List` is expanded. A folder holding a kustomization is
refused with the command that renders it: gameday does not reimplement kustomize.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from gameday.errors import UsageError

if TYPE_CHECKING:
    from gameday.adapters.kube import KubeAdapter

Source = str | Path | Mapping[str, Any]
# A knob edits the rendered documents in place; it gets the cluster to ask what it serves
# (a PodDisruptionBudget is policy/v1 from Kubernetes 1.21, policy/v1beta1 before).
Knob = Callable[[list[dict[str, Any]], "KubeAdapter | None"], None]

_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass(frozen=True)
class State:
    """Manifests and knobs under one name. `State("pdb", "k8s/", knobs=(pdb("web", 5),))`."""

    name: str
    sources: tuple[Source, ...]
    knobs: tuple[Knob, ...] = ()
    namespace: str | None = None  # for namespaced documents that name none

    def __post_init__(self) -> None:
        if isinstance(self.sources, (str, Path, Mapping)):  # one source given bare
            object.__setattr__(self, "sources", (self.sources,))

    def __str__(self) -> str:  # the pytest id when parametrized over states
        return self.name

    def but(self, name: str, *knobs: Knob) -> State:
        """The same manifests with more knobs, under another name: the second state of a
        comparison (`base.but("no-spread", spread("web", None))`)."""
        return dataclasses.replace(self, name=name, knobs=(*self.knobs, *knobs))

    def render(self, kube: KubeAdapter | None = None) -> list[dict[str, Any]]:
        """The documents to apply: sources read, knobs run, namespaces defaulted."""
        docs: list[dict[str, Any]] = []
        for source in self.sources:
            docs += _load(source)
        for knob in self.knobs:
            knob(docs, kube)
        for doc in docs:
            _check(doc)
            if self.namespace and doc["kind"] != "Namespace":
                doc["metadata"].setdefault("namespace", self.namespace)
        return docs


def _load(source: Source) -> list[dict[str, Any]]:
    if isinstance(source, Mapping):
        return _expand([copy.deepcopy(dict(source))])
    path = Path(source)
    if path.is_dir():
        if any((path / k).exists() for k in _KUSTOMIZATIONS):
            raise UsageError(f"{path} is a kustomization: render it first "
                             f"(`kubectl kustomize {path} > state.yaml`) and provision the file")
        files = sorted(p for p in path.rglob("*") if p.suffix in _MANIFEST_SUFFIXES)
        if not files:
            raise UsageError(f"no manifests (*.yaml, *.yml, *.json) in folder {path}")
        return [doc for f in files for doc in _read(f)]
    if not path.is_file():
        raise UsageError(f"no manifest file or folder at {path}")
    return _read(path)


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not valid YAML: {exc}") from None
    return _expand(docs)


def _expand(docs: Iterable[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for doc in docs:
        if not isinstance(doc, dict):
            raise UsageError(f"a manifest document must be a mapping, not {type(doc).__name__}")
        if doc.get("kind") == "List":
            out += _expand(doc.get("items") or [])
        else:
            out.append(doc)
    return out


def _check(doc: Mapping[str, Any]) -> None:
    missing = [k for k in ("apiVersion", "kind") if not doc.get(k)]
    if not (doc.get("metadata") or {}).get("name"):
        missing.append("metadata.name")
    if missing:
        raise UsageError(f"manifest document lacks {', '.join(missing)}: "
                         f"{str(dict(doc))[:200]}")
