"""`python -m gameday.lab.ingress`: the lab's GCLB-like ingress load balancer process.

    python -m gameday.lab.ingress --kubeconfig PATH --context gameday-lab \\
        --listen 127.0.0.1:PORT --admin-listen 127.0.0.1:PORT2 --profile fast|gke

Runs until SIGTERM/SIGINT; exits non-zero with a message if it cannot listen or reach the
apiserver at start. `lab up` waits for `GET /healthz` on the admin address to answer 200.
"""

from __future__ import annotations

import argparse
import logging
import sys

from gameday.errors import GamedayError
from gameday.lab.daemon import api_client, run, until_signalled
from gameday.lab.ingress.healthcheck import HealthCheckSettings
from gameday.lab.ingress.lb import LoadBalancer
from gameday.lab.ingress.watcher import ClusterCache, Watcher
from gameday.lab.profiles import PROFILES, get_profile

log = logging.getLogger("gameday.lab.ingress")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gameday.lab.ingress",
                                     description="GCLB-like ingress load balancer of the lab")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--context", default=None)
    parser.add_argument("--listen", required=True, help="127.x.y.z:PORT for traffic")
    parser.add_argument("--admin-listen", required=True,
                        help="127.x.y.z:PORT for /metrics, /healthz, /debug/backends")
    parser.add_argument("--profile", choices=PROFILES, default="fast")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    profile = get_profile(args.profile)
    lb = LoadBalancer(args.listen, args.admin_listen, profile.neg_detach_delay)
    api = api_client(args.kubeconfig, args.context)
    defaults = HealthCheckSettings.from_profile(profile)
    watcher = Watcher(api, ClusterCache(lb, defaults))
    await lb.start()
    try:
        watcher.start()
    except GamedayError:
        await lb.stop()
        raise
    try:
        log.info("serving on %s, admin on %s, profile %s", args.listen, args.admin_listen,
                 args.profile)
        await until_signalled()
    finally:
        watcher.stop()
        await lb.stop()
        api.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run(lambda: serve(args), log, args.log_level)


if __name__ == "__main__":
    sys.exit(main())
