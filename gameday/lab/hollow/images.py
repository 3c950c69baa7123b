"""Which container images the lab runs as real local processes: one table.

Any image not listed here is simulated (Running/Ready with no process), as KWOK does, so a user's
own Deployments schedule and count in the lab even though their images cannot run here.
"""

from __future__ import annotations

import sys

# image repository (registry and tag ignored) -> argv prefix; container args are appended
LAB_IMAGES: dict[str, list[str]] = {
    "gameday-lab/sample-app": [sys.executable, "-m", "gameday.lab.images.sample_app"],
}


def repository(image: str) -> str:
    """`gameday-lab/sample-app:1` -> `gameday-lab/sample-app` (digest and tag dropped)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return name


def program_for(image: str) -> list[str] | None:
    """The argv prefix that runs this image, or None when the image is simulated."""
    return LAB_IMAGES.get(repository(image))
