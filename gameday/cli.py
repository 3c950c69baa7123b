"""The `gameday` command: `lab install|up|down|status` and `recover`.

Errors of our own (GamedayError) print as one actionable line and exit 2; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gameday.errors import GamedayError, UsageError

DESCRIPTION = """\
Game days for Kubernetes on GKE. Scenarios are pytest tests (`pytest scenarios/`); this
command manages the embedded lab they run on by default, and reverts faults left behind by a
run that was killed."""
EPILOG = """\
first run:     gameday lab install && gameday lab up && pytest scenarios/zone_outage.py
after a crash: gameday recover"""


def _lab_parser(sub: argparse._SubParsersAction) -> None:
    lab = sub.add_parser("lab", help="the embedded lab: real control plane, simulated GKE nodes")
    lab_sub = lab.add_subparsers(dest="lab_cmd", required=True)
    lab_sub.add_parser("install", help="install or build every lab binary (idempotent)")
    up = lab_sub.add_parser("up", help="start the lab and wait until every node is Ready")
    up.add_argument("--nodes", type=int, default=6, help="number of nodes (default 6)")
    up.add_argument("--zones", type=int, default=3, help="number of zones (default 3)")
    up.add_argument("--region", default="europe-west1")
    up.add_argument("--pool", action="append", dest="pools", metavar="NAME[:KIND]",
                    help="node pool, KIND standard|preemptible|spot (default spot-pool:spot); "
                         "repeat for several")
    up.add_argument("--profile", default="fast", help="timing profile: fast (CI) or gke (real)")
    up.add_argument("--ip-block", type=int, default=None,
                    help="second octet of the lab's 127.B.0.0/16 addresses (default: the first "
                         "free one from 20)")
    up.add_argument("--no-app", action="store_true", help="do not deploy the sample service")
    up.add_argument("--apiserver-port", type=int, help="default: a free port")
    up.add_argument("--timeout", type=float, default=120, help="seconds to wait for readiness")
    down = lab_sub.add_parser("down", help="stop everything the lab started")
    down.add_argument("--purge", action="store_true", help="also delete the state folder")
    down.add_argument("--keep-data", action="store_true", help="keep Prometheus' data")
    status = lab_sub.add_parser("status", help="components, nodes by zone, pods per node")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    for p in (lab, up, down, status):
        p.add_argument("--state-dir", type=Path, default=None,
                       help="lab state folder (default $GAMEDAY_LAB_DIR or ./.gameday/lab)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gameday", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    _lab_parser(sub)
    recover = sub.add_parser("recover", help="revert faults left outstanding by a killed run")
    recover.add_argument("--ledger", type=Path, default=None,
                         help="a run's revert-ledger.jsonl (default: the newest with open "
                              "records under --report-dir)")
    recover.add_argument("--report-dir", type=Path, default=Path("reports"))
    recover.add_argument("--kubeconfig", type=Path, default=None)
    recover.add_argument("--kube-context", default=None)
    recover.add_argument("--gce-endpoint", default=None, help="Compute API endpoint override")
    recover.add_argument("--lab-dir", type=Path, default=None)
    return parser


def _lab(args: argparse.Namespace) -> int:
    from gameday.lab import state as lab_state

    state_dir = (args.state_dir or lab_state.default_dir()).resolve()
    if args.lab_cmd == "install":
        from gameday.lab.build import install

        for name, path in install().items():
            print(f"{name:<24} {path}")
        return 0
    if args.lab_cmd == "up":
        from gameday.lab.config import LabConfig, PoolConfig
        from gameday.lab.up import up

        pools = tuple(PoolConfig.parse(p) for p in (args.pools or ["spot-pool:spot"]))
        config = LabConfig(nodes=args.nodes, zones=args.zones, region=args.region, pools=pools,
                           profile=args.profile, ip_block=args.ip_block,
                           deploy_app=not args.no_app)
        ports = {"apiserver": args.apiserver_port} if args.apiserver_port else {}
        state = up(config, state_dir, ports, timeout_s=args.timeout)
        from gameday.lab.status import render, status

        print(render(status(state)))
        return 0
    if args.lab_cmd == "down":
        from gameday.lab.down import down

        had_folder = state_dir.is_dir()
        if down(state_dir, purge=args.purge, keep_data=args.keep_data):
            print(f"lab in {state_dir} stopped" + (" and purged" if args.purge else ""))
        else:
            purged = args.purge and had_folder
            print(f"no lab in {state_dir}: nothing to stop" +
                  (" (state folder removed)" if purged else ""))
        return 0
    from gameday.lab.status import render, status

    data = status(lab_state.LabState.load(state_dir))
    print(json.dumps(data, indent=2) if args.json else render(data))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.cmd == "lab":
            from gameday.extras import lab_extra

            with lab_extra():
                return _lab(args)
        if args.cmd == "recover":
            from gameday.recover_cli import recover_command

            return recover_command(args.ledger, args.kubeconfig, args.kube_context,
                                   args.gce_endpoint, args.report_dir, args.lab_dir)
        raise UsageError(f"unknown command {args.cmd!r}")
    except GamedayError as exc:
        print(f"gameday: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gameday: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
