"""A pod's volumes on a hollow node: folders, and path rewriting as the lab's stand-in for mounts.

A lab pod is a plain local process: no mount namespace, so `/mnt/gameday` cannot be made to
show a ConfigMap. Instead each volume is materialized in a folder of the pod's own (under the
node's folder, like /var/lib/kubelet/pods/<uid>/volumes), and every container string that names
a path under a `volumeMounts[].mountPath` — an arg, the command, an env value, workingDir — is
rewritten to that folder before the process starts. A path counts when it starts the string or
follows `=` or `:` (`--config=/mnt/x`, `PYTHONPATH=/a:/mnt/x`). Paths a program builds at run
time from other strings are not rewritten: programs should find their files relative to one
they were given (as gameday's Locust bundle does with `__file__`).

Supported: `configMap` and `secret` (with or without `items`, `optional`; modes applied;
read once at pod start, where a kubelet would also apply later edits), `emptyDir`. Any other
volume type is an empty folder, with a pod event saying so. A missing ConfigMap or Secret keeps
the pod waiting (ContainerCreating) and the caller retries, as a kubelet does, with a
FailedMount event.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from gameday.lab.hollow.kuberest import KubeApiError, KubeRest

DEFAULT_MODE = 0o644


class VolumeNotReady(Exception):
    """A volume cannot be set up yet (its source object is missing); the pod waits."""


@dataclass
class PodVolumes:
    """The folders of one pod's volumes; `notes` are what the pod's events should tell."""

    root: Path
    folders: dict[str, Path] = field(default_factory=dict)  # volume name -> folder
    notes: list[str] = field(default_factory=list)

    async def set_up(self, pod: dict, kube: KubeRest) -> None:
        """Create every volume's folder with its files; raises VolumeNotReady (retry later)."""
        namespace = pod["metadata"]["namespace"]
        self.notes = []
        for volume in pod["spec"].get("volumes") or []:
            name = volume["name"]
            folder = self.root / "volumes" / name
            if "configMap" in volume or "secret" in volume:
                files = await _source_files(volume, namespace, kube)
                shutil.rmtree(folder, ignore_errors=True)
                _write_files(folder, files)
            else:
                folder.mkdir(parents=True, exist_ok=True)
                if "emptyDir" not in volume:
                    kind = next((k for k in volume if k != "name"), "unknown")
                    self.notes.append(f'lab: volume "{name}" ({kind}) is an empty folder here; '
                                      "the lab fills only configMap and secret volumes")
            self.folders[name] = folder

    def mounts(self, container: dict) -> list[tuple[str, str]]:
        """(mountPath, local folder) for a container's volumeMounts, subPath applied."""
        pairs = []
        for mount in container.get("volumeMounts") or []:
            folder = self.folders.get(mount["name"])
            if folder is not None:
                local = folder / mount["subPath"] if mount.get("subPath") else folder
                pairs.append((mount["mountPath"], str(local)))
        return pairs

    def remove(self) -> None:
        """The pod is gone: its folders go too (a process still writing is no obstacle)."""
        shutil.rmtree(self.root, ignore_errors=True)


async def _source_files(volume: dict, namespace: str, kube: KubeRest
                        ) -> dict[str, tuple[bytes, int]]:
    """path in the volume -> (content, mode), from the volume's ConfigMap or Secret."""
    if "configMap" in volume:
        source, kind, name = volume["configMap"], "configmap", volume["configMap"].get("name")
    else:
        source, kind, name = volume["secret"], "secret", volume["secret"].get("secretName")
    try:
        obj = await kube.get(f"/api/v1/namespaces/{namespace}/{kind}s/{name}")
    except (aiohttp.ClientError, TimeoutError) as exc:  # apiserver briefly away: retry
        raise VolumeNotReady(f'MountVolume.SetUp failed for volume "{volume["name"]}" : '
                             f"apiserver unreachable: {exc!r}") from exc
    except KubeApiError as exc:
        if exc.status != 404:
            raise VolumeNotReady(f'MountVolume.SetUp failed for volume "{volume["name"]}" : '
                                 f"{exc}") from exc
        if source.get("optional"):
            return {}
        raise VolumeNotReady(f'MountVolume.SetUp failed for volume "{volume["name"]}" : '
                             f'{kind} "{name}" not found') from exc
    data = {k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()}
    for key, value in (obj.get("data") or {}).items():
        data[key] = base64.b64decode(value) if kind == "secret" else value.encode()
    mode = source.get("defaultMode", DEFAULT_MODE)
    if not source.get("items"):
        return {key: (content, mode) for key, content in data.items()}
    files = {}
    for item in source["items"]:
        if item["key"] not in data:
            if source.get("optional"):
                continue
            raise VolumeNotReady(f'MountVolume.SetUp failed for volume "{volume["name"]}" : '
                                 f'{kind} "{name}" has no key "{item["key"]}"')
        files[item["path"]] = (data[item["key"]], item.get("mode", mode))
    return files


def _write_files(folder: Path, files: dict[str, tuple[bytes, int]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for rel, (content, mode) in files.items():
        path = (folder / rel).resolve()
        if not path.is_relative_to(folder.resolve()):
            raise VolumeNotReady(f"volume path {rel!r} leaves its volume")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.chmod(path, mode)


def rewrite(text: str, mounts: list[tuple[str, str]]) -> str:
    """Replace each mount path in text (at the start, or after `=` or `:`) by its folder.

    `/mnt/gameday/x.py` -> `<folder>/x.py`; `/mnt/gamedayx` is left alone (not under the mount).
    One pass, the longest mount path first, so nested mounts resolve to the innermost and a
    rewritten folder is never rewritten again.
    """
    if not mounts:
        return text
    local = {m.rstrip("/"): folder for m, folder in mounts}
    paths = "|".join(re.escape(m) for m in sorted(local, key=len, reverse=True))
    pattern = re.compile(rf"(^|[=:])({paths})(?=/|:|$)")
    return pattern.sub(lambda m: m.group(1) + local[m.group(2)], text)
