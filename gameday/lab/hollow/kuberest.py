"""A small asyncio REST client for the apiserver, used by the hollow kubelets only.

A real kubelet speaks plain REST+JSON; so do we. The official Python client deserializes every
object into models, which costs more CPU than a hundred hollow nodes can afford, and it is
synchronous. Everything here is bounded by timeouts; watches reconnect from their last
resourceVersion and re-list on 410 Gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from gameday.errors import LabError

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


class KubeApiError(LabError):
    """The apiserver answered with an error status."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        self.status = status
        try:
            message = json.loads(body).get("message", body)
        except ValueError:
            message = body
        super().__init__(f"{method} {path}: HTTP {status}: {message[:300]}")


class KubeRest:
    """JSON over HTTPS to one apiserver with a bearer token; one pooled session."""

    def __init__(self, server: str, token: str, ca_file: str, timeout_s: float = 10.0) -> None:
        self.server = server.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._ssl = ssl.create_default_context(cafile=ca_file)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=5)
        self._session: aiohttp.ClientSession | None = None
        self._root: KubeRest | None = None  # set on a view made by `behind`
        self._cut_off: Callable[[], str | None] = _never

    def behind(self, cut_off: Callable[[], str | None]) -> KubeRest:
        """This client as one node's kubelet sees it: while `cut_off()` names a reason (the
        node's VPC firewall drops its traffic to the apiserver), every request fails as an
        unreachable host does, with aiohttp.ClientConnectionError. The view shares this
        client's connection pool; the lab has one process for all kubelets, so the cut is
        applied here, where each kubelet's traffic leaves, instead of in a packet filter."""
        view = copy.copy(self)
        view._root = self
        view._cut_off = cut_off
        return view

    @classmethod
    def from_kubeconfig(cls, path: Path) -> KubeRest:
        """Read the lab's own token kubeconfig (one cluster, one token user)."""
        cfg = yaml.safe_load(path.read_text())
        cluster = cfg["clusters"][0]["cluster"]
        user = cfg["users"][0]["user"]
        return cls(cluster["server"], user["token"], cluster["certificate-authority"])

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._root is not None:
            return self._root.session
        if self._session is None:
            conn = aiohttp.TCPConnector(ssl=self._ssl, limit=64)
            self._session = aiohttp.ClientSession(connector=conn, headers=self._headers)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(self, method: str, path: str, body: Any = None,
                      content_type: str = "application/json",
                      params: dict[str, str] | None = None) -> dict:
        if why := self._cut_off():
            raise aiohttp.ClientConnectionError(f"{method} {path}: {self.server} unreachable "
                                                f"({why})")
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type} if body is not None else None
        async with self.session.request(method, self.server + path, data=data, headers=headers,
                                        params=params, timeout=self._timeout) as resp:
            text = await resp.text()
            if resp.status >= 400:
                raise KubeApiError(method, path, resp.status, text)
            return json.loads(text) if text else {}

    async def get(self, path: str, **params: str) -> dict:
        return await self.request("GET", path, params=params or None)

    async def post(self, path: str, body: dict) -> dict:
        return await self.request("POST", path, body)

    async def put(self, path: str, body: dict) -> dict:
        return await self.request("PUT", path, body)

    async def patch(self, path: str, body: dict, content_type: str = MERGE) -> dict:
        return await self.request("PATCH", path, body, content_type)

    async def delete(self, path: str, body: dict | None = None) -> dict:
        return await self.request("DELETE", path, body)

    async def watch(self, path: str, stop: asyncio.Event) -> AsyncIterator[tuple[str, dict]]:
        """Yield (type, object) for a collection forever (until `stop`), list first.

        Starts with a LIST (each item yielded as a synthetic ADDED, plus a "SYNCED" marker with
        the item names, so the consumer can drop what vanished while it was not watching),
        then watches from its resourceVersion; reconnects on errors and re-lists on 410.
        """
        while not stop.is_set():
            try:
                listing = await self.get(path)
            except (aiohttp.ClientError, TimeoutError, KubeApiError):
                await _sleep_or_stop(stop, 1.0)
                continue
            version = listing["metadata"]["resourceVersion"]
            for item in listing.get("items", []):
                yield "ADDED", item
            yield "SYNCED", {"items": listing.get("items", [])}
            async for event in self._watch_from(path, version, stop):
                if event is None:  # 410 Gone: re-list
                    break
                kind, obj, version = event
                yield kind, obj

    async def _watch_from(self, path: str, version: str, stop: asyncio.Event
                          ) -> AsyncIterator[tuple[str, dict, str] | None]:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=90)
        while not stop.is_set():
            params = {"watch": "1", "resourceVersion": version, "timeoutSeconds": "60",
                      "allowWatchBookmarks": "true"}
            try:
                async with self.session.get(self.server + path, params=params,
                                            timeout=timeout) as resp:
                    if resp.status == 410:
                        yield None
                        return
                    if resp.status >= 400:
                        raise KubeApiError("WATCH", path, resp.status, await resp.text())
                    async for line in resp.content:
                        if stop.is_set():
                            return
                        event = json.loads(line)
                        obj = event["object"]
                        if event["type"] == "ERROR":
                            if obj.get("code") == 410:
                                yield None
                                return
                            break
                        version = obj["metadata"]["resourceVersion"]
                        if event["type"] != "BOOKMARK":
                            yield event["type"], obj, version
            except (aiohttp.ClientError, TimeoutError, KubeApiError, ValueError):
                await _sleep_or_stop(stop, 0.5)


def _never() -> str | None:
    return None


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
