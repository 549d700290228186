"""Account-level lists: applications and pool usage metrics. The data plane only lists applications; the
emulator's own route adds a package version (on Azure that is Azure Resource Manager's: create the application
package, upload the zip, activate it)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bigcompute.emulator.compute import usage
from bigcompute.emulator.core.errors import invalid_query
from bigcompute.emulator.core.formats import parse_iso
from bigcompute.emulator.service import BatchState
from bigcompute.emulator.state.applications import wire_application
from bigcompute.emulator.wire.httpio import ListQuery, empty, json_response, read_body

MAX_PACKAGE = 256 * 1024 * 1024  # what one upload may hold in the emulator's memory


def _st(req: Request) -> BatchState:
    return req.app.state.batch


async def list_applications(req: Request) -> Response:
    q = ListQuery(req, "applications")
    return q.page_of([wire_application(doc) for doc in _st(req).stores.applications.all()])


async def get_application(req: Request) -> Response:
    return json_response(wire_application(_st(req).stores.applications.get(req.path_params["application_id"])))


async def put_package(req: Request) -> Response:
    """PUT /_emulator/applications/{id}/versions/{version}?displayName=...&default=true, the zip as the body."""
    query = req.query_params
    data = await read_body(req, MAX_PACKAGE)
    _st(req).packages.add(req.path_params["application_id"], req.path_params["version"], data,
                          display_name=query.get("displayName"), default=query.get("default", "").lower() == "true")
    return empty(201)


async def pool_usage_metrics(req: Request) -> Response:
    q = ListQuery(req, "poolusagemetrics")
    st = _st(req)
    start, end = _time(req, "starttime"), _time(req, "endtime")
    step, first, last = usage.window(st.ctx.clock(), st.ctx.time_scale, start, end)
    lives = st.stores.usage.lives(first, last)
    items = usage.metrics(lives, now=st.ctx.clock(), time_scale=st.ctx.time_scale, start=start, end=end)
    return q.page_of([i for i in items if q.pred is None or q.pred(i)])


def _time(req: Request, name: str) -> float | None:
    """A query parameter by its name in any case (the SDK sends startTime and endtime)."""
    value = next((v for k, v in req.query_params.items() if k.lower() == name), None)
    if value is None:
        return None
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise invalid_query(name, value, "The value is not an ISO 8601 date and time.") from exc
