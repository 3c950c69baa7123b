"""`python -m gameday.lab.kubestate`: the lab's kube-state-metrics stand-in as a process.

Runs until SIGTERM/SIGINT. Exits 1 with a message when the kubeconfig cannot be loaded or the
address cannot be bound; `lab up` waits for `GET /readyz` (200 once nodes, pods and deployments
were all listed).
"""

from __future__ import annotations

import argparse
import logging
import sys

from aiohttp import web

from gameday.errors import LabError, UsageError
from gameday.lab.daemon import api_client, run, until_signalled
from gameday.lab.kubestate.server import ClusterWatch, build_app
from gameday.lab.kubestate.store import ClusterStore

log = logging.getLogger("gameday.lab.kubestate")


def listen_address(text: str) -> tuple[str, int]:
    """`127.0.0.1:9100` -> ("127.0.0.1", 9100); only loopback addresses are accepted."""
    host, _, port = text.rpartition(":")
    if not host.startswith("127.") or not port.isdigit():
        raise UsageError(f"--listen {text!r} must be 127.x.y.z:PORT (the lab stays on loopback)")
    return host, int(port)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gameday.lab.kubestate",
                                     description="kube-state-metrics style exporter of the lab")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--context", default=None)
    parser.add_argument("--listen", required=True, help="127.x.y.z:PORT")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    host, port = listen_address(args.listen)
    api = api_client(args.kubeconfig, args.context)
    store = ClusterStore()
    runner = web.AppRunner(build_app(store), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise LabError(f"cannot listen on {args.listen}: {exc}; pick a free port") from exc
    watch = ClusterWatch(api, store)
    watch.start()
    log.info("serving /metrics and /sd/pods on %s", args.listen)
    try:
        await until_signalled()
    finally:
        watch.stop()
        await runner.cleanup()
        api.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run(lambda: serve(args), log, args.log_level)


if __name__ == "__main__":
    sys.exit(main())
