"""Which container images the lab runs as real local processes, and with which program.

Any image not listed here is simulated (Running/Ready with no process), as KWOK does, so a user's
own Deployments schedule and count in the lab even though their images cannot run here.

A listed image names the programs it holds (executable name -> local argv prefix) and which of
them is its ENTRYPOINT. As in Kubernetes, a container's `command` replaces the entrypoint and its
`args` follow: `command: ["locust"]` or `["/usr/local/bin/locust"]` runs the same local program
as no command at all. A command the image has no program for (a shell, a script baked into the
image) cannot run here: `NotRunnable` carries the message the pod's status and event show, as a
kubelet shows `executable file not found`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class LabImage:
    """The local stand-in for one container image."""

    programs: dict[str, list[str]]  # executable name in the image -> local argv prefix
    entrypoint: str  # which program the image's ENTRYPOINT runs


class NotRunnable(Exception):
    """The container's command names a program the lab's stand-in for its image lacks."""


# image repository (registry host, tag and digest ignored) -> its local programs
LAB_IMAGES: dict[str, LabImage] = {
    "gameday-lab/sample-app": LabImage(
        {"sample-app": [sys.executable, "-m", "gameday.lab.images.sample_app"]}, "sample-app"),
    # the official image's ENTRYPOINT is `locust`; Locust is installed in gameday's own venv
    "locustio/locust": LabImage({"locust": [sys.executable, "-m", "locust"]}, "locust"),
}


def repository(image: str) -> str:
    """`gameday-lab/sample-app:1` -> `gameday-lab/sample-app` (digest and tag dropped)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return name


def _lab_image(image: str) -> LabImage | None:
    """`docker.io/locustio/locust:2.47.0` and `locustio/locust` are the same image here: a
    first path part with a dot or port, or `localhost`, is a registry host (Docker's rule)."""
    name = repository(image)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        name = rest
    return LAB_IMAGES.get(name)


def program_for(image: str) -> list[str] | None:
    """The argv prefix of the image's entrypoint, or None when the image is simulated."""
    lab_image = _lab_image(image)
    return lab_image.programs[lab_image.entrypoint] if lab_image else None


def argv_for(image: str, command: list[str], args: list[str]) -> list[str] | None:
    """The local argv of a container (None: a simulated image); raises NotRunnable."""
    lab_image = _lab_image(image)
    if lab_image is None:
        return None
    if not command:
        return [*lab_image.programs[lab_image.entrypoint], *args]
    program = lab_image.programs.get(command[0].rsplit("/", 1)[-1])
    if program is None:
        known = ", ".join(sorted(lab_image.programs))
        raise NotRunnable(
            f'lab: image {repository(image)} has no program "{command[0]}" here (the lab runs '
            f"only: {known}; no shell): drop `command` to use the image's entrypoint, or name "
            "one of those")
    return [*program, *command[1:], *args]
