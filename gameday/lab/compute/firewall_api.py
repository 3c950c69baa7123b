"""HTTP routes of the lab's VPC firewall: firewalls.insert/get/list/delete, instances.setTags,
and the global operations firewall changes return.

Why apart from api.py: these are the network's resources (gameday.lab.compute.network), not the
VMs' power; the routes stay as thin as api.py's and answer in GCE's shapes, so the real
`google-cloud-compute` FirewallsClient, InstancesClient.set_tags and GlobalOperationsClient work
against the lab unchanged. A rule change is applied at once, so its operation is DONE when
returned (GCE's may take seconds; callers wait on it either way).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gameday.lab.compute import shapes
from gameday.lab.compute.api import INSTANCE, PREFIX, _listing, _model, _operation, _zone
from gameday.lab.compute.errors import invalid
from gameday.lab.compute.model import ComputeModel
from gameday.lab.compute.operations import GLOBAL, USER

FIREWALLS = PREFIX + "/global/firewalls"
GLOBAL_OPERATION = PREFIX + "/global/operations/{operation}"

routes = web.RouteTableDef()


async def _body(request: web.Request, field: str) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise invalid(field, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise invalid(field, "the body must be a JSON object")
    return body


def _global_op(model: ComputeModel, method: str, name: str, rule_id: str) -> web.Response:
    target = f"projects/{model.layout.project}/global/firewalls/{name}"
    return _operation(model, model.operations.record(GLOBAL, f"compute.firewalls.{method}",
                                                     target, int(rule_id), user=USER))


@routes.post(FIREWALLS)
async def insert_firewall(request: web.Request) -> web.Response:
    model = _model(request)
    rule = model.network.insert(await _body(request, "firewallResource"))
    return _global_op(model, "insert", rule.name, rule.body["id"])


@routes.get(FIREWALLS)
async def list_firewalls(request: web.Request) -> web.Response:
    model = _model(request)
    items = [dict(r.body) for r in model.network.rules.values()]
    link = shapes.link(f"projects/{model.layout.project}/global/firewalls")
    return _listing("compute#firewallList", link, items, request)


@routes.get(FIREWALLS + "/{name}")
async def get_firewall(request: web.Request) -> web.Response:
    model = _model(request)
    return web.json_response(dict(model.network.rule(request.match_info["name"]).body))


@routes.delete(FIREWALLS + "/{name}")
async def delete_firewall(request: web.Request) -> web.Response:
    model = _model(request)
    rule = model.network.delete(request.match_info["name"])
    return _global_op(model, "delete", rule.name, rule.body["id"])


@routes.get(GLOBAL_OPERATION)
async def get_global_operation(request: web.Request) -> web.Response:
    model = _model(request)
    return _operation(model, model.operations.get(GLOBAL, request.match_info["operation"]))


@routes.post(GLOBAL_OPERATION + "/wait")
async def wait_global_operation(request: web.Request) -> web.Response:
    model = _model(request)
    op = await model.operations.wait(GLOBAL, request.match_info["operation"], model.wait_cap)
    return _operation(model, op)


@routes.post(INSTANCE + "/setTags")
async def set_tags(request: web.Request) -> web.Response:
    model, zone = _zone(request)
    inst = model.instance(zone, request.match_info["instance"])
    body = await _body(request, "tagsResource")
    items = body.get("items") or []
    if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
        raise invalid("tags.items", "must be a list of strings")
    model.network.set_tags(inst.name, items, body.get("fingerprint"))
    op = model.operations.record(zone, "compute.instances.setTags",
                                 model.path(zone, "instances", inst.name), inst.id,
                                 user=USER)
    return _operation(model, op)
