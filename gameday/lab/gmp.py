"""The lab's Managed-Prometheus-shaped query endpoint, served by labd.

Google Managed Prometheus answers the Prometheus HTTP API at
`/v1/projects/PROJECT/location/global/prometheus/api/v1/...` (query, query_range, series,
labels, label values, metadata) and only with a valid OAuth bearer token. The lab serves the
same paths, refuses a missing, foreign or expired token with GMP's 401, and proxies everything
else to its real Prometheus. The series already carry GMP's labels (`project_id`, `location`,
`cluster`, `namespace`): the lab's Prometheus adds them at scrape (gameday/lab/prometheus.py),
so the direct and the GMP-shaped URL give the same answers and one PromQL runs on both.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

from gameday.lab.tokens import TOKENS_KEY

API = "/v1/projects/{project}/location/global/prometheus"
UPSTREAM_KEY = web.AppKey("gameday_gmp_upstream", str)
PROJECT_KEY = web.AppKey("gameday_gmp_project", str)
HOP_HEADERS = ("Content-Type",)


def base_url(labd_url: str, project: str) -> str:
    """The URL to pass as --prometheus-url (the API's base, without /api/v1)."""
    return labd_url + API.format(project=project)


def _google_error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": status, "message": message, "status": kind}},
                             status=status)


async def query(request: web.Request) -> web.StreamResponse:
    """Any /api/v1/... call: check the token and the project, then ask the real Prometheus."""
    why = request.app[TOKENS_KEY].check(request.headers.get("Authorization"))
    if why is not None:
        return _google_error(401, "UNAUTHENTICATED", "Request had invalid authentication "
                             f"credentials. Expected OAuth 2 access token ({why}).")
    project = request.match_info["project"]
    if project != request.app[PROJECT_KEY]:
        return _google_error(403, "PERMISSION_DENIED", f"Permission monitoring.timeSeries.list "
                             f"denied (or the resource may not exist) on projects/{project}.")
    url = f"{request.app[UPSTREAM_KEY]}/api/v1/{request.match_info['tail']}"
    body = await request.read()
    headers = {h: request.headers[h] for h in HOP_HEADERS if h in request.headers}
    timeout = aiohttp.ClientTimeout(total=60)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session, session.request(
                request.method, url, params=request.query, data=body or None,
                headers=headers) as upstream:
            payload = await upstream.read()
            return web.Response(status=upstream.status, body=payload,
                                content_type=upstream.content_type)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return _google_error(503, "UNAVAILABLE", f"the lab's Prometheus did not answer: {exc}")


def add_routes(app: web.Application, project: str, prometheus_url: str) -> None:
    """Mount the endpoint on labd (needs tokens.add_routes on the same app)."""
    app[PROJECT_KEY] = project
    app[UPSTREAM_KEY] = prometheus_url.rstrip("/")
    app.router.add_route("*", API + "/api/v1/{tail:.*}", query)
