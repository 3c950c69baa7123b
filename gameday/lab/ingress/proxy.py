"""The data plane: an HTTP reverse proxy that routes by the URL map to healthy endpoints.

Errors are GCLB's: a request no rule matches and no default backend serves gets 404; a backend
service without a healthy endpoint gets 502 `failed_to_pick_backend`; a backend that refuses,
resets or closes the connection gets the client a 502 `backend_connection_closed_before_data_sent
_to_client`, and one that does not answer within the backend service timeout a 502
`backend_timeout`. The reason is in the body and in the `X-Gameday-Lb-Detail` header. Upstream
connections are pooled and kept alive, as GFEs do.
"""

from __future__ import annotations

import time

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from gameday.lab.ingress.metrics import LbMetrics
from gameday.lab.ingress.pool import BackendPool

HOP_BY_HOP = frozenset(h.lower() for h in (
    "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
    "Transfer-Encoding", "Upgrade", "Content-Length"))
DETAIL_HEADER = "X-Gameday-Lb-Detail"


def _error(status: int, detail: str) -> web.Response:
    reason = "Not Found" if status == 404 else "Server Error"
    return web.Response(status=status, text=f"{status} {reason}: {detail}\n",
                        headers={DETAIL_HEADER: detail})


class Proxy:
    """Request handler bound to a pool and metrics; `app()` makes the aiohttp application."""

    def __init__(self, pool: BackendPool, metrics: LbMetrics, max_connections: int = 1000) -> None:
        self.pool = pool
        self.metrics = metrics
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0,
                                         keepalive_timeout=60)
        self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                              skip_auto_headers=("User-Agent", "Accept-Encoding"))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        url_map = self.pool.config.url_map
        route = url_map.route(request.host, request.path)
        service = route.backend if route is not None else url_map.default_backend
        ingress = route.origin if route is not None else url_map.default_origin
        backend = ""
        if service is None:
            response = _error(404, "no_matching_url_map_rule")
        else:
            endpoint = self.pool.pick(service)
            if endpoint is None:
                response = _error(502, "failed_to_pick_backend")
            else:
                backend = endpoint.address
                response = await self._forward(request, backend, self.pool.timeout_s(service))
        self.metrics.observe_request(service or "", backend, response.status,
                                     time.perf_counter() - started,
                                     ingress if service is not None else "")
        return response

    async def _forward(self, request: web.Request, address: str,
                       timeout_s: float) -> web.Response:
        assert self._session is not None, "Proxy.start() must run before serving"
        headers = CIMultiDict((k, v) for k, v in request.headers.items()
                              if k.lower() not in HOP_BY_HOP)
        peer = request.remote or ""
        forwarded = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{forwarded}, {peer}" if forwarded else peer
        headers["X-Forwarded-Proto"] = request.scheme
        headers["Via"] = "1.1 google"
        body = await request.read() if request.body_exists else None
        try:
            async with self._session.request(
                request.method, f"http://{address}{request.rel_url}", headers=headers,
                data=body, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as upstream:
                payload = await upstream.read()
                out = CIMultiDict((k, v) for k, v in upstream.headers.items()
                                  if k.lower() not in HOP_BY_HOP)
                return web.Response(status=upstream.status, body=payload, headers=out)
        except TimeoutError:
            return _error(502, "backend_timeout")
        except (aiohttp.ClientError, OSError):
            return _error(502, "backend_connection_closed_before_data_sent_to_client")
