"""The in-cluster load's objects, the safety rule that keeps faults off them, and what a lost
worker does to a verdict on the load's own series."""

from __future__ import annotations

import datetime as dt

import pytest

from gameday.errors import SafetyError, UsageError
from gameday.faults.safety import check_protected
from gameday.load import manifests
from gameday.load.bundle import build_bundle
from gameday.load.manifests import Names, Placement
from gameday.load.placement import choose, default_image
from gameday.settings import Settings
from gameday.slo import Status, Verdict, Window
from gameday.verdicts import Verdicts

BUNDLE = build_bundle(None, None)
PLACEMENT = Placement(image="locustio/locust:2.47.0", workers=2,
                      node_selector={"cloud.google.com/gke-nodepool": "default-pool"},
                      avoid_zones=("europe-west1-b",))


def test_worker_pods_are_scraped_bounded_and_kept_out_of_the_avoided_zone() -> None:
    pod = manifests.worker_pod(1, Names("r1"), PLACEMENT, BUNDLE, "127.20.0.7", ["--host=h"],
                               1e9, 600)
    spec = pod["spec"]
    assert pod["metadata"]["name"] == "gameday-load-r1-worker-1"
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert spec["restartPolicy"] == "Never" and spec["activeDeadlineSeconds"] == 600
    assert spec["nodeSelector"] == {"cloud.google.com/gke-nodepool": "default-pool"}
    term = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "topology.kubernetes.io/zone", "operator": "NotIn",
         "values": ["europe-west1-b"]}]
    args = spec["containers"][0]["args"]
    assert "--master-host=127.20.0.7" in args and "--worker" in args
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert env["GAMEDAY_LOAD_RUN"] == "r1" and env["GAMEDAY_LOAD_METRICS_ADDR"] == "$(POD_IP)"


def test_the_master_is_not_scraped_and_carries_the_lease() -> None:
    pod = manifests.master_pod(Names("r1"), PLACEMENT, BUNDLE, [], 1e9, 600, 30)
    assert pod["metadata"]["annotations"] == {}
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert env["GAMEDAY_LOAD_LEASE_S"] == "30"


@pytest.mark.parametrize(("monitor", "kind", "endpoints"), [
    ("podmonitoring", "PodMonitoring", "endpoints"),
    ("podmonitor", "PodMonitor", "podMetricsEndpoints")])
def test_monitor_objects_select_only_this_runs_workers(monitor: str, kind: str,
                                                       endpoints: str) -> None:
    placement = Placement(image="i", monitor=monitor)
    obj = manifests.monitor(Names("r1"), placement, "v1", 15)
    assert obj is not None and obj["kind"] == kind
    assert obj["spec"]["selector"]["matchLabels"] == {manifests.RUN_LABEL: "r1",
                                                      manifests.ROLE_LABEL: "worker"}
    assert obj["spec"][endpoints][0]["interval"] == "15s"
    assert manifests.monitor(Names("r1"), Placement(image="i"), "v1", 15) is None


def test_placement_auto_is_runner_on_the_lab_and_cluster_elsewhere() -> None:
    settings = Settings()
    assert choose(None, settings, lab_target=True) == "runner"
    assert choose(None, settings, lab_target=False) == "cluster"
    assert choose("runner", Settings(load_placement="cluster"), lab_target=False) == "runner"
    with pytest.raises(UsageError, match="placement"):
        choose("pods", settings, lab_target=True)
    assert default_image().startswith("locustio/locust:2.")


def test_a_fault_that_targets_a_load_node_is_refused_naming_both() -> None:
    protected = {"node/n1": "load pod(s) gameday-load-r1-worker-0",
                 "pod/gameday-load-r1-worker-0": "load pod gameday-load-r1-worker-0"}
    with pytest.raises(SafetyError, match=r"node/n1 zone z.*worker-0"):
        check_protected("zone_outage", ("node/n0", "node/n1 zone z"), protected)
    check_protected("zone_outage", ("node/n0", "node/n10"), protected)  # no prefix matches


class _Judge(Verdicts):
    """Verdicts over one fixed verdict and a list of losses: the caveat logic alone."""

    def __init__(self, losses: list[tuple[float, int, int]]) -> None:
        self.losses = losses

    def load_losses(self) -> list[tuple[float, int, int]]:
        return self.losses

    def prom_for(self, slo: object) -> _Prom:
        return _Prom()


class _Prom:
    """Stands in for a Prometheus that has scraped everything: only the caveat is tested."""

    url = "http://127.0.0.1:9"

    def wait_for_scrape(self, ts: object) -> float:
        return 0.0


class _Slo:
    def __init__(self, promql: str) -> None:
        self.promql = promql

    def evaluate(self, prom: object, window: Window) -> Verdict:
        return Verdict("availability", "availability", window.phase, ">= 99%", 1.0,
                       Status.PASS, self.promql, window, "availability: 100 of 100")


T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
WINDOW = Window("fault", T0, T0 + dt.timedelta(seconds=30))


def test_a_worker_lost_before_the_windows_end_makes_load_verdicts_inconclusive() -> None:
    lost_at = (T0 + dt.timedelta(seconds=10)).timestamp()
    judge = _Judge([(lost_at, 1, 2)])
    verdict = judge._judge(_Slo('gameday_load_requests_total{gameday_run!=""}'), WINDOW)
    assert verdict.status is Status.INCONCLUSIVE
    assert "lost 1 of 2 worker(s) at 12:00:10 UTC" in verdict.message
    server_side = judge._judge(_Slo("gameday_lb_requests_total"), WINDOW)
    assert server_side.status is Status.PASS  # the load balancer's count is still the truth
    later = _Judge([((T0 + dt.timedelta(seconds=40)).timestamp(), 1, 2)])
    assert later._judge(_Slo("gameday_load_requests_total"), WINDOW).passed
