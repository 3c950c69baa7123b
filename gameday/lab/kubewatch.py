"""List+watch of one resource in a worker thread, as client-go's reflector does.

The official client is synchronous, so each resource gets a daemon thread: list, then watch from
the list's resourceVersion (with bookmarks) in bounded rounds; re-list at once on 410 Gone;
reconnect with capped exponential backoff on any other error. Every call carries
`_request_timeout`, so a vanished apiserver never hangs a thread. Events go to the asyncio loop
with `call_soon_threadsafe`; objects stay plain dicts (no model deserialization: cheaper, and the
translation works on dicts anyway).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

log = logging.getLogger(__name__)

# (event type, object or list of objects): "SYNC" carries the full list, then ADDED/MODIFIED/
# DELETED carry one object each.
Sink = Callable[[str, Any], None]
ListFn = Callable[..., Any]  # a generated client list method bound to its resource

WATCH_ROUND_S = 30  # server-side timeoutSeconds of one watch request
CONNECT_TIMEOUT_S = 5.0
LIST_TIMEOUT_S = 30.0
MAX_BACKOFF_S = 10.0
NOT_SERVED_RETRY_S = 5.0  # how often an optional resource (a CRD) is looked for again


class _Gone(Exception):
    """The watch's resourceVersion is too old: list again."""


class Reflector(threading.Thread):
    """Keep a sink informed about every object of one resource."""

    def __init__(self, name: str, list_fn: ListFn, loop: asyncio.AbstractEventLoop, sink: Sink,
                 stop: threading.Event, *, optional: bool = False) -> None:
        super().__init__(name=f"reflector-{name}", daemon=True)
        self.resource = name
        self._list_fn = list_fn
        self._loop = loop
        self._sink = sink
        self._stop_event = stop
        self._optional = optional

    def _emit(self, event_type: str, payload: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._sink, event_type, payload)
        except RuntimeError:  # the loop is closed: we are shutting down
            self._stop_event.set()

    def _list(self) -> str:
        resp = self._list_fn(_preload_content=False,
                             _request_timeout=(CONNECT_TIMEOUT_S, LIST_TIMEOUT_S))
        body = json.loads(resp.data)
        self._emit("SYNC", body.get("items") or [])
        return body["metadata"]["resourceVersion"]

    def _watch(self, resource_version: str) -> str:
        """One bounded watch round; returns the resourceVersion to resume from."""
        resp = self._list_fn(
            watch=True, resource_version=resource_version, allow_watch_bookmarks=True,
            timeout_seconds=WATCH_ROUND_S, _preload_content=False,
            _request_timeout=(CONNECT_TIMEOUT_S, WATCH_ROUND_S + 10))
        try:
            for line in iter_resp_lines(resp):
                if self._stop_event.is_set():
                    break
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    if obj.get("code") == 410:
                        raise _Gone()
                    raise ApiException(status=obj.get("code"), reason=obj.get("message"))
                resource_version = obj.get("metadata", {}).get("resourceVersion",
                                                               resource_version)
                if event.get("type") != "BOOKMARK":
                    self._emit(event["type"], obj)
        finally:
            resp.release_conn()
        return resource_version

    def run(self) -> None:
        backoff = 0.5
        while not self._stop_event.is_set():
            try:
                rv = self._list()
                backoff = 0.5
                while not self._stop_event.is_set():
                    rv = self._watch(rv)
            except _Gone:
                log.info("%s: resourceVersion expired, listing again", self.resource)
            except ApiException as exc:
                if exc.status == 404 and self._optional:
                    self._emit("SYNC", [])  # not installed (yet): nothing to serve from it
                    self._stop_event.wait(NOT_SERVED_RETRY_S)
                    continue
                log.warning("%s: apiserver answered %s %s; retrying in %.1fs",
                            self.resource, exc.status, exc.reason, backoff)
                self._stop_event.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            except Exception as exc:  # network errors, apiserver restarts: keep trying
                log.warning("%s: watch failed (%s: %s); retrying in %.1fs",
                            self.resource, type(exc).__name__, exc, backoff)
                self._stop_event.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
