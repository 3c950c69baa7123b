"""What applying a manifest over a live object changes, and the patch that puts it back.

Why by field: server-side apply touches only the fields a manifest names, so restoring means
writing back exactly those fields' previous values (read before the apply, kept in the ledger)
— not replacing the object, which would also undo what controllers and other users changed
meanwhile. Lists are atomic here (a container list is restored as it was, whole); mappings are
walked key by key. A field the apply added is restored as `null` (a JSON merge patch deletes it).

"Already holds our value" is containment, not equality: the server adds defaults (a port's
protocol, a probe's scheme), so a live value that has every field we declare, with our values,
is unchanged and needs no write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_IDENTITY = {"apiVersion", "kind", "status"}
_META_IDENTITY = {"name", "namespace"}


def contains(live: Any, ours: Any) -> bool:
    """True when `live` already says everything `ours` says (server defaults aside)."""
    if isinstance(ours, Mapping):
        return isinstance(live, Mapping) and all(contains(live.get(k), v)
                                                 for k, v in ours.items())
    if isinstance(ours, list):
        return (isinstance(live, list) and len(live) == len(ours)
                and all(contains(a, b) for a, b in zip(live, ours, strict=True)))
    if live == ours:
        return True
    # quantities and ports: the server may echo 1 as "1"; never equate a bool with a string
    return (isinstance(live, str) != isinstance(ours, str) and not isinstance(live, bool)
            and not isinstance(ours, bool) and live is not None and str(live) == str(ours))


def restore_patch(live: Mapping[str, Any], ours: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch putting back every field of `live` that applying `ours` changes;
    empty when nothing changes."""
    patch: dict[str, Any] = {}
    for key, value in ours.items():
        if key in _IDENTITY:
            continue
        if key == "metadata":
            sub = _walk(live.get("metadata") or {}, {k: v for k, v in value.items()
                                                     if k not in _META_IDENTITY})
        else:
            sub = _walk(live.get(key), value)
        if sub is not _SAME:
            patch[key] = sub
    return patch


class _Same:
    """Marker: the field needs no restore."""


_SAME: Any = _Same()


def _walk(live: Any, ours: Any) -> Any:
    if isinstance(ours, Mapping) and (live is None or isinstance(live, Mapping)):
        out = {}
        for key, value in ours.items():
            sub = _walk((live or {}).get(key), value)
            if sub is not _SAME:
                out[key] = sub
        return out or _SAME
    return _SAME if contains(live, ours) else live
