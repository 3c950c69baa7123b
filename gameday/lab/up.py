"""`gameday lab up`: start every lab component in order, wait for each, record it in state.json.

State is saved after every process start, so `lab down` can clean up a half-started lab, and any
failure stops what was already started before the error reaches the user.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

from gameday.errors import LabAlreadyRunning, LabError, UsageError
from gameday.lab import binaries, blocks, controlplane, pki, procs, prometheus
from gameday.lab.apply import apply, manifest
from gameday.lab.config import LabConfig
from gameday.lab.down import stop_all
from gameday.lab.hollow.pods import LAB_ENV_MARKER
from gameday.lab.profiles import get_profile
from gameday.lab.state import LabState
from gameday.lab.waits import free_port, http_ok, port_taken, until
from gameday.progress import Step

PORT_NAMES = ("etcd", "etcd_peer", "apiserver", "labd", "ingress", "ingress_admin",
              "kubestate", "prometheus")
APP_NAMESPACE, APP_DEPLOYMENT = "gameday-demo", "web"


def _ports(requested: dict[str, int]) -> dict[str, int]:
    ports = {}
    for name in PORT_NAMES:
        port = requested.get(name)
        if port is None:
            port = free_port()
        elif port_taken(port):
            raise UsageError(f"port {port} for {name} is already in use on 127.0.0.1: free it "
                             f"or choose another (--{name.replace('_', '-')}-port)")
        ports[name] = port
    return ports


def up(config: LabConfig, state_dir: Path, requested_ports: dict[str, int] | None = None,
       quiet: bool = False, timeout_s: float = 120) -> LabState:
    """Start a lab; return its state once every node is Ready (and the app, if deployed)."""
    config.validate()
    _check_state_dir(state_dir)
    if (state_dir / "state.json").exists():
        old = LabState.load(state_dir)
        if old.running():
            raise LabAlreadyRunning(
                f"a lab is already running in {state_dir} ({', '.join(old.running())}): use it, "
                "or stop it first with `gameday lab down`")
    bins = binaries.resolve()
    config = dataclasses.replace(config, ip_block=blocks.reserve(config.ip_block))
    state = LabState(state_dir, config, _ports(requested_ports or {}))
    state.save()
    try:
        _start(state, bins, quiet, timeout_s)
    except BaseException:
        stop_all(state, quiet=True)
        raise
    return state


def _check_state_dir(state_dir: Path) -> None:
    """The state folder must be a folder we can write, before anything starts."""
    if state_dir.exists() and not state_dir.is_dir():
        raise UsageError(f"lab state folder {state_dir} is a file, not a folder: pass another "
                         "--state-dir (--lab-dir under pytest) or $GAMEDAY_LAB_DIR")
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the lab state folder {state_dir}: {exc.strerror}; "
                         "pass a writable --state-dir (--lab-dir under pytest)") from exc


def _start(state: LabState, bins: binaries.Binaries, quiet: bool, timeout_s: float) -> None:
    profile = get_profile(state.config.profile)
    ports = controlplane.Ports(state.ports["etcd"], state.ports["etcd_peer"],
                               state.ports["apiserver"])
    logs = state.dir / "logs"
    keys = pki.generate(state.dir / "pki", controlplane.SERVICE_IP)
    for identity in pki.IDENTITIES:
        pki.write_kubeconfig(keys, identity, state.apiserver_url)
    pki.write_kubeconfig(keys, "admin", state.apiserver_url, state.kubeconfig)

    def spawn(name: str, argv: list[str]) -> procs.ProcRecord:
        rec = procs.spawn(name, argv, logs, cwd=state.dir,
                          env={LAB_ENV_MARKER: str(state.dir)} if name == "labd" else None)
        state.processes[name] = rec
        state.save()
        return rec

    t0 = time.monotonic()
    with Step("starting etcd and kube-apiserver", quiet=quiet):
        etcd = spawn("etcd", controlplane.etcd_argv(bins["etcd"], state.dir / "etcd", ports))
        until("etcd", lambda: http_ok(f"http://127.0.0.1:{ports.etcd}/health"), 30, etcd)
        api = spawn("kube-apiserver", controlplane.apiserver_argv(
            bins["kube-apiserver"], keys, ports, state.dir, profile))
        until("kube-apiserver /readyz", lambda: http_ok(
            state.apiserver_url + "/readyz", keys.token("admin"), keys.ca_cert), 60, api)
    with Step("starting controller-manager, scheduler and hollow nodes", quiet=quiet) as step:
        spawn("kube-controller-manager", controlplane.controller_manager_argv(
            bins["kube-controller-manager"], keys, profile))
        spawn("kube-scheduler", controlplane.scheduler_argv(bins["kube-scheduler"], keys))
        labd = spawn("labd", [sys.executable, "-m", "gameday.lab.labd",
                              "--state-dir", str(state.dir)])
        until("labd", lambda: http_ok(state.url("labd") + "/healthz"), 30, labd)
        _wait_nodes_ready(state, keys, step, timeout_s)
    state.timings["nodes_ready_s"] = round(time.monotonic() - t0, 2)
    with Step("starting the ingress load balancer", quiet=quiet):
        apply(state.kubeconfig, manifest("harness.yaml") + manifest("backendconfig-crd.yaml"))
        lb = spawn("ingress", [
            sys.executable, "-m", "gameday.lab.ingress", "--kubeconfig", str(state.kubeconfig),
            "--context", state.context, "--listen", f"127.0.0.1:{state.ports['ingress']}",
            "--admin-listen", f"127.0.0.1:{state.ports['ingress_admin']}",
            "--profile", profile.name])
        until("ingress", lambda: http_ok(state.url("ingress_admin") + "/healthz"), 30, lb)
    with Step("starting Prometheus and the cluster-state exporter", quiet=quiet):
        ksm = spawn("kubestate", [
            sys.executable, "-m", "gameday.lab.kubestate", "--kubeconfig", str(state.kubeconfig),
            "--context", state.context, "--listen", f"127.0.0.1:{state.ports['kubestate']}"])
        until("kubestate", lambda: http_ok(state.url("kubestate") + "/metrics"), 30, ksm)
        prom_dir = state.dir / "prometheus"
        addr = lambda name: f"127.0.0.1:{state.ports[name]}"  # noqa: E731
        config = prometheus.write_config(profile, prometheus.PrometheusTargets(
            apiserver=addr("apiserver"), ca_file=keys.ca_cert,
            token_file=keys.token_file("prometheus"), labd=addr("labd"),
            ingress_admin=addr("ingress_admin"), kubestate=addr("kubestate"),
            gmp_labels={"project_id": state.config.project, "location": state.config.region,
                        "cluster": state.config.cluster}), prom_dir)
        prom = spawn("prometheus", prometheus.prometheus_command(
            bins["prometheus"], prom_dir, addr("prometheus"), config))
        until("prometheus", lambda: http_ok(state.url("prometheus") + prometheus.READY_PATH),
              60, prom)
    if state.config.deploy_app:
        with Step("deploying the sample service (gameday-demo/web)", quiet=quiet) as step:
            apply(state.kubeconfig, manifest("app.yaml"))
            _wait_app(state, step, timeout_s)
    state.timings["up_s"] = round(time.monotonic() - t0, 2)
    state.save()
    if not quiet:
        print(f"lab up in {time.monotonic() - t0:.1f}s — kubeconfig {state.kubeconfig} "
              f"(context {state.context})", file=sys.stderr)


def _wait_nodes_ready(state: LabState, keys: pki.Pki, step: Step, timeout_s: float) -> None:
    from gameday.lab.status import node_rows

    want = state.config.nodes

    def all_ready() -> bool:
        try:
            rows = node_rows(state)
        except LabError:
            return False
        ready = sum(1 for r in rows if r["ready"])
        step.update(f"{ready}/{want} nodes Ready")
        return ready >= want

    until(f"{want} nodes Ready", all_ready, timeout_s, state.processes["labd"], interval_s=0.25)


def _wait_app(state: LabState, step: Step, timeout_s: float) -> None:
    """The app is up when every replica is ready and the ingress answers 200 through the LB."""
    from gameday.lab.status import deployment_ready

    def serving() -> bool:
        ready, want = deployment_ready(state, APP_NAMESPACE, APP_DEPLOYMENT)
        step.update(f"{ready}/{want} replicas ready")
        return want > 0 and ready >= want and http_ok(state.url("ingress") + "/")

    until("the sample service to serve through the ingress", serving, timeout_s,
          state.processes["ingress"], interval_s=0.25)
