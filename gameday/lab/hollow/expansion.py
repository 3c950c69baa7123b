"""Kubernetes `$(VAR)` expansion of a container's env values, command and args.

Pod specs lean on it (`--web-host=$(POD_IP)` with POD_IP from the downward API), and a process
given the literal text would fail, so the hollow kubelet expands exactly as the kubelet does
(Kubernetes' third_party/forked/golang/expansion): `$(NAME)` becomes the variable's value when
it is defined and stays as written when not; `$$` is a literal `$`; any other `$` is kept.
Env values see only the variables defined before them in the list; command and args see all.
Values taken from `valueFrom` are never expanded.
"""

from __future__ import annotations

from collections.abc import Mapping


def expand(text: str, env: Mapping[str, str]) -> str:
    """One string expanded against env, with the kubelet's rules (see the module docstring)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "$" or i + 1 == len(text):
            out.append(text[i])
            i += 1
            continue
        after = text[i + 1]
        if after == "$":
            out.append("$")
            i += 2
        elif after == "(" and (close := text.find(")", i + 2)) != -1:
            name = text[i + 2:close]
            out.append(env.get(name, f"$({name})"))
            i = close + 1
        else:  # `$x`, or `$(` never closed: kept as written
            out.append("$" + after)
            i += 2
    return "".join(out)


def container_env(items: list[dict], fields: Mapping[str, str]) -> dict[str, str]:
    """A container's `env` list resolved in order: literal values expanded against the
    variables before them, `valueFrom.fieldRef` read from `fields` (downward API paths such
    as `status.podIP`). Other sources (secretKeyRef, configMapKeyRef, resourceFieldRef) are not
    supported by the lab and leave the variable unset."""
    env: dict[str, str] = {}
    for item in items:
        if "valueFrom" not in item:
            env[item["name"]] = expand(str(item.get("value", "")), env)
        elif (path := item["valueFrom"].get("fieldRef", {}).get("fieldPath")) in fields:
            env[item["name"]] = fields[path]
    return env
