"""The GKE path against the lab's Managed-Prometheus-shaped endpoint: real google-auth, real
tokens that expire (60 s on the fast profile), GMP's labels, the cluster matcher, GCLB's metrics.

Network: everything here talks to 127.x; the key's token_uri is checked to be the lab's, and
the metadata server is pointed at a closed loopback port, so ADC cannot reach Google.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gameday.adapters.google_auth import authorized_session
from gameday.adapters.prometheus import PromClient
from gameday.faults.ledger import LEDGER_NAME, Ledger
from gameday.lab.profiles import get_profile
from gameday.lab.tokens import write_key
from gameday.run import RunContext
from gameday.settings import Settings
from gameday.slo import Availability, Latency, Status, Window
from tests.conftest import LabHandle
from tests.lab.evidence_of_writes import NO_CLOUD

pytestmark = pytest.mark.lab


@pytest.fixture
def adc(lab: LabHandle, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Application Default Credentials = the lab's service-account key; no metadata server."""
    for name, value in NO_CLOUD.items():
        monkeypatch.setenv(name, value)
    key = Path(lab.status["google_credentials"])
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    return key


@pytest.fixture
def gmp(lab: LabHandle, adc: Path) -> Iterator[PromClient]:
    """The harness's client on the GMP endpoint, scoped to the lab's cluster."""
    prom = PromClient(lab.status["gmp_url"], session=authorized_session(),
                      scope={"cluster": lab.state.config.cluster})
    yield prom
    prom.close()


def test_the_key_sends_google_auth_to_the_lab_only(lab: LabHandle, adc: Path) -> None:
    key = json.loads(adc.read_text())
    assert key["type"] == "service_account"
    assert key["token_uri"] == f"{lab.status['control_url']}/token"
    assert key["token_uri"].startswith("http://127.")
    assert adc.stat().st_mode & 0o077 == 0  # a private key: owner only


def _query(lab: LabHandle, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(lab.status["gmp_url"] + "/api/v1/query", params={"query": "up"},
                        headers=headers, timeout=10)


def test_tokens_expire_under_a_long_run_and_google_auth_keeps_it_going(
        lab: LabHandle, gmp: PromClient) -> None:
    """Over more than three token lifetimes every query through the authorized session
    answers, on new tokens; the first token, replayed by hand, is refused as expired."""
    for token in (None, "ya29.forged"):
        refused = _query(lab, token)
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["status"] == "UNAUTHENTICATED"
    session = gmp._client._session
    first = session.credentials.token
    assert _query(lab, first).status_code == 200
    lifetime = get_profile(lab.state.config.profile).oauth_token_lifetime
    tokens, answered, t0 = {first}, 0, time.monotonic()
    while time.monotonic() - t0 < 3.2 * lifetime:
        gmp.wait_for_scrape(time.time(), timeout_s=15)  # raises on any refusal
        answered += 1
        tokens.add(session.credentials.token)
        time.sleep(5)
    assert answered >= 3 * lifetime / 6, answered
    assert len(tokens) >= 4, f"{len(tokens)} tokens over {3.2 * lifetime:g} s"
    expired = _query(lab, first)
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]


def test_series_carry_gmp_labels(lab: LabHandle, gmp: PromClient) -> None:
    config = lab.state.config
    jobs = {"pods", "gameday-labd", "gameday-ingress", "kube-state-metrics"}
    deadline = time.monotonic() + 30  # a fresh lab's static targets get their first scrape
    while True:
        found = gmp.query(f'up{{cluster="{config.cluster}"}}')
        if {s.labels["job"] for s in found} >= jobs or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert {s.labels["job"] for s in found} >= jobs, found
    for sample in found:
        assert sample.labels["project_id"] == config.project
        assert sample.labels["location"] == config.region
        assert sample.labels["namespace"], sample.labels


def _traffic(url: str, seconds: float) -> tuple[float, float]:
    start = time.time()
    while time.time() - start < seconds:
        requests.get(url + "/", timeout=5)
        time.sleep(0.02)
    return start, time.time()


def _window(start: float, end: float) -> Window:
    return Window("traffic", dt.datetime.fromtimestamp(start, dt.UTC),
                  dt.datetime.fromtimestamp(end, dt.UTC))


def test_the_run_scopes_its_queries_and_gclb_slis_work_through_gmp(
        lab: LabHandle, adc: Path) -> None:
    """--prometheus-auth google on the lab: the run's Prometheus is the GMP endpoint, every
    selector gets cluster="lab" (another cluster's would select nothing), and GCLB-named SLIs
    (no cluster label, as on Google) find the Ingress's requests and latencies."""
    run = RunContext(Settings(lab="running", lab_dir=lab.state_dir, prometheus_auth="google"))
    prom = run.prom
    assert prom.url == lab.status["gmp_url"] and prom.scope == {"cluster": "lab"}
    start, end = _traffic(lab.status["ingress_url"], 6)
    prom.wait_for_scrape(end + 0.5)
    window = _window(start, end)
    lb = Availability.from_lb(0.9).evaluate(prom, window)
    assert lb.status is Status.PASS, lb.message
    assert 'cluster="lab"' in lb.promql
    other = PromClient(prom.url, session=authorized_session(), scope={"cluster": "other"})
    assert Availability.from_lb(0.9).evaluate(other, window).status is Status.INCONCLUSIVE
    for slo in (Availability.from_gclb(0.9, ingress="gameday-demo/web"),
                Latency.from_gclb(0.9, 1.0, ingress="gameday-demo/web")):
        verdict = slo.evaluate(prom, window)
        assert verdict.status is Status.PASS, verdict.message
        assert "cluster=" not in verdict.promql
        assert "loadbalancing_googleapis_com:" in verdict.promql
    series = prom.query('loadbalancing_googleapis_com:https_request_count')
    assert series and all("cluster" not in s.labels and s.labels["project_id"] == "gameday-lab"
                          and s.labels["url_map_name"].startswith("k8s2-um-")
                          for s in series), series[:2]
    other.close()
    run.close()


WOULD_INJECT = textwrap.dedent('''
    from gameday.faults.zone_outage import ZoneOutage


    def test_would_inject(gameday):
        with gameday.inject(ZoneOutage, zone=gameday.param("zone", "")):
            pass
''')


@pytest.mark.parametrize("credential", ["forged", "missing"])
def test_a_bad_credential_is_one_clear_error_before_any_fault(
        lab: LabHandle, tmp_path: Path, credential: str) -> None:
    key = tmp_path / "key.json"
    if credential == "forged":  # the lab's shape and token_uri, but not a key the lab issued
        write_key(key, lab.state.config.project, lab.status["control_url"] + "/token")
    (tmp_path / "test_s.py").write_text(WOULD_INJECT)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:locust", "-p", "no:cacheprovider", "-q",
         "test_s.py", "--report-dir", str(tmp_path / "reports"), "--lab-dir",
         str(lab.state_dir), "--lab=running", "--prometheus-auth", "google",
         "--gameday-set", f"zone={lab.state.config.zone_names[0]}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=180,
        env={**NO_CLOUD, "GOOGLE_APPLICATION_CREDENTIALS": str(key)})
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "PrometheusAuthError: no Google credential for Managed Prometheus" in proc.stdout
    assert ("invalid_grant" if credential == "forged" else "was not found") in proc.stdout, \
        proc.stdout[-3000:]
    ledgers = list((tmp_path / "reports").glob(f"*/{LEDGER_NAME}"))
    assert all(not Ledger(p).read().records for p in ledgers), ledgers
