"""OAuth for Google Managed Prometheus: Application Default Credentials that refresh themselves.

Why not a printed token (`gcloud auth print-access-token` in a header): it lives about an hour,
and nothing renews it, so a long game day lost its Prometheus half-way. google-auth's
AuthorizedSession asks for a new token whenever the one it holds is close to expiry (3 min 45 s
before, in google-auth 2.x), from whatever ADC finds: `GOOGLE_APPLICATION_CREDENTIALS` (a
service-account key, e.g. the lab's), workload identity federation, the GKE metadata server or
`gcloud auth application-default login`.

`authorized_session()` fetches the first token at once, so a missing or refused credential is
one error at run start, before any fault, not an inconclusive verdict an hour later.
"""

from __future__ import annotations

from typing import Any

import google.auth
import google.auth.exceptions
from google.auth.transport.requests import AuthorizedSession, Request

from gameday.errors import SloError

SCOPES = ("https://www.googleapis.com/auth/monitoring.read",)
"""Reading metrics through Managed Prometheus's query API needs no more."""


class PrometheusAuthError(SloError):
    """No usable Google credential: none found, or its token endpoint refused it."""


def _explain(exc: Exception) -> str:
    return (f"no Google credential for Managed Prometheus: {exc}. Set up Application Default "
            "Credentials (GOOGLE_APPLICATION_CREDENTIALS=<key file>, workload identity "
            "federation, or `gcloud auth application-default login`) with an identity allowed "
            "monitoring.read, or drop --prometheus-auth google")


class _Session(AuthorizedSession):
    """An AuthorizedSession whose token failures are PrometheusAuthError, not google-auth's
    own exceptions (which the Prometheus adapter would not know to explain)."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().request(*args, **kwargs)
        except google.auth.exceptions.GoogleAuthError as exc:
            raise PrometheusAuthError(_explain(exc)) from exc


def authorized_session(timeout_s: float = 10.0) -> AuthorizedSession:
    """A requests session carrying ADC's token, refreshed by google-auth; the first token is
    fetched now (PrometheusAuthError if that fails)."""
    try:
        credentials, _project = google.auth.default(scopes=list(SCOPES))
        request = Request()
        credentials.refresh(_TimedRequest(request, timeout_s))
    except google.auth.exceptions.GoogleAuthError as exc:
        raise PrometheusAuthError(_explain(exc)) from exc
    return _Session(credentials, refresh_timeout=timeout_s)


class _TimedRequest:
    """google-auth's Request with a timeout on the first refresh (its default is 120 s)."""

    def __init__(self, request: Request, timeout_s: float) -> None:
        self._request, self._timeout_s = request, timeout_s

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout_s)
        return self._request(*args, **kwargs)
