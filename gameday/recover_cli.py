"""`gameday recover`: stop a killed run's load, then replay its outstanding revert records.

Without --ledger it takes the newest run folder under --report-dir whose ledger still has open
records; without --kubeconfig/--kube-context it uses the lab when the records are the lab's.
Load goes first and needs no cluster: on a production ingress every second of it counts. It
stops the load processes of the ledger's run and any other left behind by a dead or stopped
harness on this machine (gameday/load/reaper.py), also when no fault is left to revert.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gameday.errors import UsageError
from gameday.faults.ledger import LEDGER_NAME, Ledger
from gameday.faults.safety import LAB_CONTEXT
from gameday.load.reaper import stop_load

if TYPE_CHECKING:
    from gameday.adapters.kube import KubeAdapter


def find_outstanding(report_dir: Path) -> Path | None:
    """The newest ledger under report_dir with records not yet reverted."""
    ledgers = sorted(report_dir.glob(f"*/{LEDGER_NAME}"), key=lambda p: p.stat().st_mtime,
                     reverse=True)
    return next((p for p in ledgers if Ledger(p).read().outstanding), None)


def recover_command(ledger: Path | None, kubeconfig: Path | None, context: str | None,
                    gce_endpoint: str | None, report_dir: Path, lab_dir: Path | None) -> int:
    from gameday.adapters.compute import ComputeAdapter
    from gameday.adapters.kube import KubeAdapter
    from gameday.faults.recover import recover

    if ledger is None:
        ledger = find_outstanding(report_dir)
    elif not ledger.exists():
        raise UsageError(f"no ledger at {ledger}")
    for line in stop_load(runs=[ledger.resolve().parent.name] if ledger is not None else []):
        print(line)
    if ledger is None:
        print(f"nothing to recover: no ledger under {report_dir}/ has open records")
        return 0
    contexts = {r.context for r in Ledger(ledger).read().outstanding}
    if kubeconfig is None and context is None and contexts <= {LAB_CONTEXT}:
        from gameday.lab.state import LabState, default_dir

        state = LabState.load((lab_dir or default_dir()).resolve())
        kubeconfig, context = state.kubeconfig, state.context
        gce_endpoint = gce_endpoint or state.endpoints().get("compute_endpoint")
    kube = _kube(KubeAdapter, kubeconfig, context)
    compute = ComputeAdapter(api_endpoint=gce_endpoint) if gce_endpoint or any(
        (n.provider_id or "").startswith("gce://") for n in kube.list_nodes()) else None
    print(f"recovering from {ledger} against context {kube.context}")
    for line in recover(ledger, kube, compute):
        print(f"  {line}")
    return 0


def _kube(adapter: type[KubeAdapter], kubeconfig: Path | None, context: str | None
          ) -> KubeAdapter:
    """The cluster to recover; a kubeconfig that is not YAML is one line naming the file."""
    import yaml

    try:
        return adapter(kubeconfig, context)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise UsageError(f"--kubeconfig {kubeconfig or '~/.kube/config'} is not valid YAML"
                         f"{line}: {getattr(exc, 'problem', None) or exc}") from None
