"""HTTP routes of the lab's Compute Engine v1 endpoint, mounted on labd's aiohttp server.

Why routes stay thin: every decision is the model's; this module maps GCE's REST paths to model
calls, renders bodies with `shapes`, and turns `ComputeApiError` into GCE's JSON error with its
HTTP status, so `google-cloud-compute` raises NotFound / BadRequest as it would against Google.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gameday.lab.compute import filters, shapes
from gameday.lab.compute.errors import ComputeApiError, invalid, not_found
from gameday.lab.compute.model import ComputeModel
from gameday.lab.compute.operations import Operation

PREFIX = "/compute/v1/projects/{project}"
ZONE = PREFIX + "/zones/{zone}"
INSTANCE = ZONE + "/instances/{instance}"
MIG = ZONE + "/instanceGroupManagers/{mig}"
MODEL_KEY = web.AppKey("gameday_compute_model", ComputeModel)
PATCHABLE = {"instanceLifecyclePolicy", "name", "fingerprint"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def gce_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render refusals as GCE error bodies; only paths under /compute/ are touched."""
    try:
        return await handler(request)
    except ComputeApiError as exc:
        if not request.path.startswith("/compute/"):
            raise
        return web.json_response(shapes.error(exc.status, exc.reason, exc.message),
                                 status=exc.status)


def add_routes(app: web.Application, model: ComputeModel) -> None:
    """Mount the endpoint at the root of `app` (paths start with /compute/v1/)."""
    app[MODEL_KEY] = model
    app.middlewares.append(gce_errors)
    app.add_routes(routes)
    from gameday.lab.compute import firewall_api  # it builds on this module's helpers

    app.add_routes(firewall_api.routes)


routes = web.RouteTableDef()


def _model(request: web.Request) -> ComputeModel:
    model = request.app[MODEL_KEY]
    project = request.match_info["project"]
    if project != model.layout.project:
        raise not_found(f"projects/{project}")
    return model


def _zone(request: web.Request) -> tuple[ComputeModel, str]:
    model = _model(request)
    zone = request.match_info["zone"]
    if zone not in model.layout.zones:
        raise not_found(f"projects/{model.layout.project}/zones/{zone}")
    return model, zone


def _listing(kind: str, self_link: str, items: list[dict[str, Any]],
             request: web.Request) -> web.Response:
    items = filters.select(items, request.query.get("filter"))
    return web.json_response({"kind": kind, "id": self_link.removeprefix(shapes.API + "/"),
                              "items": items, "selfLink": self_link})


def _operation(model: ComputeModel, op: Operation) -> web.Response:
    return web.json_response(shapes.operation(model, op))


# ----- instances

@routes.get(INSTANCE)
async def get_instance(request: web.Request) -> web.Response:
    model, zone = _zone(request)
    return web.json_response(shapes.instance(model, model.instance(zone,
                                                                   request.match_info["instance"])))


@routes.get(ZONE + "/instances")
async def list_instances(request: web.Request) -> web.Response:
    model, zone = _zone(request)
    items = [shapes.instance(model, i) for i in model.instances(zone)]
    link = shapes.link(f"projects/{model.layout.project}/zones/{zone}/instances")
    return _listing("compute#instanceList", link, items, request)


@routes.get(PREFIX + "/aggregated/instances")
async def aggregated_instances(request: web.Request) -> web.Response:
    model = _model(request)
    scoped: dict[str, Any] = {}
    for zone in model.layout.zones:
        items = filters.select([shapes.instance(model, i) for i in model.instances(zone)],
                               request.query.get("filter"))
        scoped[f"zones/{zone}"] = {"instances": items} if items else {"warning": {
            "code": "NO_RESULTS_ON_PAGE",
            "message": "There are no results for scope 'zones/" + zone + "' on this page.",
            "data": [{"key": "scope", "value": f"zones/{zone}"}]}}
    link = shapes.link(f"projects/{model.layout.project}/aggregated/instances")
    return web.json_response({"kind": "compute#instanceAggregatedList",
                              "id": f"projects/{model.layout.project}/aggregated/instances",
                              "items": scoped, "selfLink": link})


def _instance_action(act: Callable[[ComputeModel, str, str], Operation]) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        model, zone = _zone(request)
        return _operation(model, act(model, zone, request.match_info["instance"]))
    return handler


routes.post(INSTANCE + "/stop")(_instance_action(ComputeModel.stop_instance))
routes.post(INSTANCE + "/start")(_instance_action(ComputeModel.start_instance))
routes.post(INSTANCE + "/reset")(_instance_action(ComputeModel.reset_instance))
routes.delete(INSTANCE)(_instance_action(ComputeModel.delete_instance))
routes.post(INSTANCE + "/simulateMaintenanceEvent")(
    _instance_action(ComputeModel.simulate_maintenance_event))


# ----- zone operations

@routes.get(ZONE + "/operations/{operation}")
async def get_operation(request: web.Request) -> web.Response:
    model, zone = _zone(request)
    return _operation(model, model.operations.get(zone, request.match_info["operation"]))


@routes.post(ZONE + "/operations/{operation}/wait")
async def wait_operation(request: web.Request) -> web.Response:
    model, zone = _zone(request)
    op = await model.operations.wait(zone, request.match_info["operation"], model.wait_cap)
    return _operation(model, op)


@routes.get(ZONE + "/operations")
async def list_operations(request: web.Request) -> web.Response:
    model, zone = _zone(request)
    items = [shapes.operation(model, op) for op in model.operations.list(zone)]
    link = shapes.link(f"projects/{model.layout.project}/zones/{zone}/operations")
    return _listing("compute#operationList", link, items, request)


# ----- managed instance groups

@routes.get(ZONE + "/instanceGroupManagers")
async def list_migs(request: web.Request) -> web.Response:
    model, zone = _zone(request)
    items = [shapes.mig(model, g) for (z, _), g in model.migs.items() if z == zone]
    link = shapes.link(f"projects/{model.layout.project}/zones/{zone}/instanceGroupManagers")
    return _listing("compute#instanceGroupManagerList", link, items, request)


@routes.get(MIG)
async def get_mig(request: web.Request) -> web.Response:
    model, zone = _zone(request)
    return web.json_response(shapes.mig(model, model.mig(zone, request.match_info["mig"])))


@routes.patch(MIG)
async def patch_mig(request: web.Request) -> web.Response:
    model, zone = _zone(request)
    name = request.match_info["mig"]
    model.mig(zone, name)  # 404 before a 400 about the body, as GCE orders them
    try:
        body = await request.json()
    except ValueError:
        raise invalid("instanceGroupManagerResource", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise invalid("instanceGroupManagerResource", "the body must be a JSON object")
    unsupported = sorted(set(body) - PATCHABLE)
    if unsupported or body.get("name", name) != name:
        raise invalid("instanceGroupManagerResource", "the lab can patch only "
                      f"instanceLifecyclePolicy.defaultActionOnFailure, not {unsupported}")
    policy = body.get("instanceLifecyclePolicy") or {}
    return _operation(model, model.patch_mig(zone, name, policy.get("defaultActionOnFailure")))


@routes.post(MIG + "/listManagedInstances")
async def list_managed_instances(request: web.Request) -> web.Response:
    model, zone = _zone(request)
    group = model.mig(zone, request.match_info["mig"])
    items = [shapes.managed_instance(model, group, i) for i in model.members(group)]
    return web.json_response({"managedInstances": filters.select(
        items, request.query.get("filter"))})


# ----- zones and regions

@routes.get(PREFIX + "/zones")
async def list_zones(request: web.Request) -> web.Response:
    model = _model(request)
    items = [shapes.zone(model, z) for z in model.layout.zones]
    link = shapes.link(f"projects/{model.layout.project}/zones")
    return _listing("compute#zoneList", link, items, request)


@routes.get(PREFIX + "/zones/{zone}")
async def get_zone(request: web.Request) -> web.Response:
    model, zone = _zone(request)
    return web.json_response(shapes.zone(model, zone))


@routes.get(PREFIX + "/regions/{region}")
async def get_region(request: web.Request) -> web.Response:
    model = _model(request)
    if request.match_info["region"] != model.layout.region:
        raise not_found(f"projects/{model.layout.project}/regions/{request.match_info['region']}")
    return web.json_response(shapes.region(model))
