"""Job schedule operations (`/jobschedules...`): parse, call the schedule store, serialize. Status codes are
Batch's: add 201, update/replace 200, disable/enable 204, terminate/delete 202 (reference §A3)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bigcompute.emulator.service import BatchState
from bigcompute.emulator.wire.httpio import ListQuery, body, empty, one


def _st(req: Request) -> BatchState:
    return req.app.state.batch


def _id(req: Request) -> str:
    return req.path_params["schedule_id"]


async def create_schedule(req: Request) -> Response:
    return empty(201, _st(req).stores.schedules.create(await body(req)))


async def list_schedules(req: Request) -> Response:
    q = ListQuery(req, "jobschedules")
    docs, last = _st(req).stores.page("jobschedules", q.pred, q.limit, q.token or "")
    return q.page(docs, last)


async def get_schedule(req: Request) -> Response:
    doc = _st(req).stores.schedules.get(_id(req))
    return one(req, doc) if req.method == "GET" else empty(200, doc)


async def patch_schedule(req: Request) -> Response:
    doc = _st(req).stores.schedules.update(_id(req), await body(req), req.headers.get("if-match"), replace=False)
    return empty(200, doc)


async def replace_schedule(req: Request) -> Response:
    doc = _st(req).stores.schedules.update(_id(req), await body(req), req.headers.get("if-match"), replace=True)
    return empty(200, doc)


async def delete_schedule(req: Request) -> Response:
    _st(req).stores.schedules.delete(_id(req))
    return empty(202)


async def terminate_schedule(req: Request) -> Response:
    _st(req).stores.schedules.terminate(_id(req))
    return empty(202)


async def disable_schedule(req: Request) -> Response:
    _st(req).stores.schedules.disable(_id(req))
    return empty(204)


async def enable_schedule(req: Request) -> Response:
    _st(req).stores.schedules.enable(_id(req))
    return empty(204)


async def list_schedule_jobs(req: Request) -> Response:
    q = ListQuery(req, "jobs")
    jobs = _st(req).stores.schedules.list_jobs(_id(req))
    return q.page_of([j for j in jobs if q.pred is None or q.pred(j)])
