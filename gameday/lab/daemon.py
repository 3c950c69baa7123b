"""What every long-running lab process shares: run an asyncio service until SIGTERM/SIGINT,
turn our own errors into one log line and exit code 1 (a traceback is kept for real bugs), and
reach the apiserver from the kubeconfig `lab up` passes on the command line."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from gameday.errors import GamedayError, LabError

if TYPE_CHECKING:
    from kubernetes import client as kube_client


async def until_signalled() -> None:
    """Return once SIGTERM or SIGINT arrives (`lab down` sends SIGTERM)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def run(serve: Callable[[], Awaitable[None]], log: logging.Logger, level: str = "INFO") -> int:
    """Configure logging, run `serve()` to completion; exit code 1 on a GamedayError."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve())
    except GamedayError as exc:
        log.error("%s", exc)
        return 1
    return 0


def api_client(kubeconfig: str, context: str | None) -> kube_client.ApiClient:
    """An apiserver client; a LabError naming the file when it cannot be loaded. (The import is
    here: labd talks plain REST and starts faster without the kubernetes package.)"""
    from kubernetes import config as kube_config

    try:
        return kube_config.new_client_from_config(kubeconfig, context=context)
    except (OSError, kube_config.ConfigException) as exc:
        raise LabError(f"cannot load kubeconfig {kubeconfig} (context {context}): {exc}") from exc
