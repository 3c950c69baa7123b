"""labd: the lab's simulated cloud in one asyncio process — hollow nodes, their control endpoint
and the Compute Engine endpoint — started by `gameday lab up` as `python -m gameday.lab.labd`.

The compute model owns the VMs and boots each node through the fleet, so a node exists only
while its instance is RUNNING, exactly as on GKE.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry, ProcessCollector

from gameday.lab.daemon import until_signalled
from gameday.lab.hollow import control
from gameday.lab.hollow.fleet import HollowFleet
from gameday.lab.hollow.kuberest import KubeRest
from gameday.lab.pki import Pki
from gameday.lab.profiles import Profile, get_profile
from gameday.lab.state import LabState


async def serve(state: LabState) -> None:
    profile = get_profile(state.config.profile)
    kube = KubeRest.from_kubeconfig(Pki(state.dir / "pki").kubeconfig("labd"))
    fleet = HollowFleet(kube, profile, state.dir / "pods")
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    app = web.Application()
    control.add_routes(app, fleet, registry)
    compute = _compute_model(state, fleet, profile, app)
    _google_apis(state, profile, app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", state.ports["labd"]).start()
    await fleet.start()
    await compute.start()
    await until_signalled()
    with contextlib.suppress(Exception):
        await compute.close()
    await fleet.close()
    await runner.cleanup()
    await kube.close()


def _compute_model(state: LabState, fleet: HollowFleet, profile, app: web.Application):
    """The Compute Engine model that owns the VMs and drives the fleet; mounts its REST API."""
    from gameday.lab.compute import ComputeModel, add_routes

    model = ComputeModel(state.config.to_layout(), fleet, profile)
    add_routes(app, model)
    fleet.attach_network(model.network)  # firewall rules cut nodes off as they would on GCE
    return model


def _google_apis(state: LabState, profile: Profile, app: web.Application) -> None:
    """The OAuth token endpoint, a fresh service-account key for it, and the Managed-Prometheus
    query endpoint that wants its tokens (gameday/lab/tokens.py, gameday/lab/gmp.py)."""
    from gameday.lab import gmp, tokens

    key = tokens.write_key(state.google_credentials, state.config.project,
                           state.url("labd") + tokens.TOKEN_PATH)
    tokens.add_routes(app, tokens.Tokens(key, profile.oauth_token_lifetime))
    gmp.add_routes(app, state.config.project, state.url("prometheus"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gameday.lab.labd", description=__doc__)
    parser.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    state = LabState.load(args.state_dir)
    asyncio.run(serve(state))
    return 0


if __name__ == "__main__":
    sys.exit(main())
