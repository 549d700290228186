"""Thin handlers: parse the request, call the state, serialize. Every rule lives in the stores."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bigcompute.emulator.core.errors import BatchError
from bigcompute.emulator.service import BatchState
from bigcompute.emulator.state.common import find_node
from bigcompute.emulator.wire import files
from bigcompute.emulator.wire.httpio import ListQuery, body, empty, json_response, one


def _st(req: Request) -> BatchState:
    return req.app.state.batch


def _p(req: Request, name: str) -> str:
    return req.path_params[name]


def _id_page(req: Request, table: str) -> Response:
    q = ListQuery(req, table)
    docs, last = _st(req).stores.page(table, q.pred, q.limit, q.token or "")
    return q.page(docs, last)


# --- pools ---------------------------------------------------------------------------------------------
async def create_pool(req: Request) -> Response:
    return empty(201, _st(req).pools.create(await body(req)))


async def list_pools(req: Request) -> Response:
    return _id_page(req, "pools")


async def get_pool(req: Request) -> Response:
    st = _st(req)
    doc = st.pools.get(_p(req, "pool_id"))
    return one(req, doc) if req.method == "GET" else empty(200, doc)


async def update_pool(req: Request) -> Response:
    return empty(200, _st(req).pools.update(_p(req, "pool_id"), await body(req), replace=False))


async def replace_pool_properties(req: Request) -> Response:
    return empty(204, _st(req).pools.update(_p(req, "pool_id"), await body(req), replace=True))


async def delete_pool(req: Request) -> Response:
    _st(req).pools.delete(_p(req, "pool_id"))
    return empty(202)


async def resize_pool(req: Request) -> Response:
    _st(req).pools.resize(_p(req, "pool_id"), await body(req))
    return empty(202)


async def stop_resize(req: Request) -> Response:
    _st(req).pools.stop_resize(_p(req, "pool_id"))
    return empty(202)


async def enable_autoscale(req: Request) -> Response:
    _st(req).pools.enable_autoscale(_p(req, "pool_id"), await body(req))
    return empty(200)


async def disable_autoscale(req: Request) -> Response:
    _st(req).pools.disable_autoscale(_p(req, "pool_id"))
    return empty(200)


async def evaluate_autoscale(req: Request) -> Response:
    run = _st(req).pools.evaluate_autoscale(_p(req, "pool_id"), (await body(req)).get("autoScaleFormula"))
    return json_response(run)


async def list_nodes(req: Request) -> Response:
    q = ListQuery(req, "nodes")
    return q.page_of([n for n in _st(req).nodes_view(_p(req, "pool_id")) if q.pred is None or q.pred(n)])


# --- node operations -------------------------------------------------------------------------------------
async def remove_nodes(req: Request) -> Response:
    _st(req).node_ops.remove(_p(req, "pool_id"), await body(req))
    return empty(202)


def _node_op(op: str, option_prop: str | None) -> Callable[[Request], Awaitable[Response]]:
    async def handler(req: Request) -> Response:
        option = (await body(req)).get(option_prop) if option_prop else None
        _st(req).node_ops.request(_p(req, "pool_id"), _p(req, "node_id"), op, option, option_prop or "")
        return empty(202)
    return handler


reboot_node = _node_op("reboot", "nodeRebootOption")
reimage_node = _node_op("reimage", "nodeReimageOption")
deallocate_node = _node_op("deallocate", "nodeDeallocateOption")
start_node = _node_op("start", None)


async def disable_scheduling(req: Request) -> Response:
    option = (await body(req)).get("nodeDisableSchedulingOption")
    _st(req).node_ops.set_scheduling(_p(req, "pool_id"), _p(req, "node_id"), False, option)
    return empty(200)


async def enable_scheduling(req: Request) -> Response:
    _st(req).node_ops.set_scheduling(_p(req, "pool_id"), _p(req, "node_id"), True, None)
    return empty(200)


async def upload_node_logs(req: Request) -> Response:
    result = _st(req).upload_node_logs(_p(req, "pool_id"), _p(req, "node_id"), await body(req))
    return json_response(result)


async def not_on_local_nodes(req: Request) -> Response:
    """Remote login and VM extensions: a local node has no SSH server and is no VM."""
    _st(req).node_root(_p(req, "pool_id"), _p(req, "node_id"))  # 404s like Batch for an unknown node
    raise BatchError(409, "OperationNotValidOnNode", "The specified operation is not valid on the node: the local "
                     "target's nodes have no remote login or VM extensions (not supported by the local target).")


# --- conditions a test asks for (the emulator's own routes, signed like any other) ----------------------
async def make_node_unusable(req: Request) -> Response:
    _st(req).make_unusable(_p(req, "pool_id"), _p(req, "node_id"), _error_body(await body(req)))
    return empty(204)


async def fail_next_resize(req: Request) -> Response:
    _st(req).fail_next_resize(_p(req, "pool_id"), _error_body(await body(req)))
    return empty(204)


def _error_body(data: dict[str, Any]) -> dict[str, Any]:
    if not data.get("code"):
        raise BatchError(400, "MissingRequiredProperty", "A required property was not specified in the request "
                         "body: code.", {"PropertyName": "code"})
    return data


async def get_node(req: Request) -> Response:
    return json_response(find_node(_st(req).nodes_view(_p(req, "pool_id")), _p(req, "node_id")))


_COUNT_KEYS = ("creating", "idle", "offline", "preempted", "rebooting", "reimaging", "running", "starting",
               "startTaskFailed", "leavingPool", "unknown", "unusable", "waitingForStartTask", "deallocated",
               "deallocating", "total", "upgradingOS")


async def node_counts(req: Request) -> Response:
    st = _st(req)
    pool_ids = st.pools.ids()
    value = []
    for pool_id in pool_ids:
        counts = {True: dict.fromkeys(_COUNT_KEYS, 0), False: dict.fromkeys(_COUNT_KEYS, 0)}
        for node in st.nodes_view(pool_id):
            bucket = counts[node["isDedicated"]]
            key = {"starttaskfailed": "startTaskFailed", "leavingpool": "leavingPool",
                   "waitingforstarttask": "waitingForStartTask"}.get(node["state"], node["state"])
            bucket[key] = bucket.get(key, 0) + 1
            bucket["total"] += 1
        value.append({"poolId": pool_id, "dedicated": counts[True], "lowPriority": counts[False]})
    return json_response({"value": value})


async def supported_images(req: Request) -> Response:
    # The local node is whatever this machine runs; one Linux image stands for it.
    image = {"nodeAgentSKUId": "batch.node.ubuntu 22.04", "osType": "linux", "verificationType": "verified",
             "imageReference": {"publisher": "canonical", "offer": "0001-com-ubuntu-server-jammy",
                                "sku": "22_04-lts", "version": "latest"}, "capabilities": []}
    return json_response({"value": [image]})


# --- jobs ----------------------------------------------------------------------------------------------
async def create_job(req: Request) -> Response:
    return empty(201, _st(req).jobs.create(await body(req)))


async def list_jobs(req: Request) -> Response:
    return _id_page(req, "jobs")


async def get_job(req: Request) -> Response:
    st = _st(req)
    doc = st.jobs.get(_p(req, "job_id"))
    return one(req, doc)


async def patch_job(req: Request) -> Response:
    doc = _st(req).jobs.patch(_p(req, "job_id"), await body(req), req.headers.get("if-match"))
    return empty(200, doc)


async def replace_job(req: Request) -> Response:
    doc = _st(req).jobs.replace(_p(req, "job_id"), await body(req), req.headers.get("if-match"))
    return empty(200, doc)


async def terminate_job(req: Request) -> Response:
    reason = (await body(req)).get("terminateReason")
    return empty(202, _st(req).jobs.request_terminate(_p(req, "job_id"), reason))


async def delete_job(req: Request) -> Response:
    _st(req).jobs.request_delete(_p(req, "job_id"))
    return empty(202)


async def disable_job(req: Request) -> Response:
    _st(req).jobs.request_disable(_p(req, "job_id"), (await body(req)).get("disableTasks", "requeue"))
    return empty(202)


async def enable_job(req: Request) -> Response:
    _st(req).jobs.request_enable(_p(req, "job_id"))
    return empty(202)


async def task_counts(req: Request) -> Response:
    return json_response(_st(req).tasks.counts(_p(req, "job_id")))


async def prep_release_status(req: Request) -> Response:
    q = ListQuery(req, "prepstatus")
    job = _st(req).jobs.get(_p(req, "job_id"))
    if not job.get("jobPreparationTask"):
        raise BatchError(409, "JobPreparationTaskNotSpecified", "The specified job does not have a job preparation "
                         "task.")
    return q.page_of([s for s in (job.get("_prepInfo") or {}).values() if q.pred is None or q.pred(s)])


# --- tasks ---------------------------------------------------------------------------------------------
async def create_task(req: Request) -> Response:
    return empty(201, _st(req).tasks.add(_p(req, "job_id"), await body(req)))


async def add_task_collection(req: Request) -> Response:
    data = await body(req)
    results = _st(req).tasks.add_collection(_p(req, "job_id"), data.get("value") or [])
    return json_response({"value": results})


async def list_tasks(req: Request) -> Response:
    q = ListQuery(req, "tasks")
    try:
        after = int(q.token or 0)
    except ValueError as exc:
        raise BatchError(400, "InvalidQueryParameterValue", "The $skiptoken is not valid.") from exc
    docs, nxt = _st(req).tasks.list(_p(req, "job_id"), q.pred, q.limit, after)
    return q.page(docs, str(nxt) if nxt is not None else None)


async def get_task(req: Request) -> Response:
    st = _st(req)
    doc = st.tasks.get(_p(req, "job_id"), _p(req, "task_id"))
    return one(req, doc)


async def replace_task(req: Request) -> Response:
    constraints = (await body(req)).get("constraints") or {}
    return empty(200, _st(req).tasks.update_constraints(_p(req, "job_id"), _p(req, "task_id"), constraints))


async def delete_task(req: Request) -> Response:
    _st(req).delete_task(_p(req, "job_id"), _p(req, "task_id"))
    return empty(200)


async def terminate_task(req: Request) -> Response:
    _st(req).terminate_task(_p(req, "job_id"), _p(req, "task_id"))
    return empty(204)


async def reactivate_task(req: Request) -> Response:
    _st(req).reactivate_task(_p(req, "job_id"), _p(req, "task_id"))
    return empty(204)


async def list_subtasks(req: Request) -> Response:
    # 404s like Batch for an unknown task; an ordinary task has none
    return json_response({"value": _st(req).subtasks(_p(req, "job_id"), _p(req, "task_id"))})


# --- task and node files ------------------------------------------------------------------------------
def _file_root(req: Request) -> tuple[Path | None, str]:
    """The folder a files route serves, a task's (None until it ran) or a node's, and that resource's URL."""
    st, p = _st(req), req.path_params
    if "task_id" in p:
        return st.task_dir(p["job_id"], p["task_id"]), f"{st.ctx.base_url}/jobs/{p['job_id']}/tasks/{p['task_id']}"
    return st.node_root(p["pool_id"], p["node_id"]), f"{st.ctx.base_url}/pools/{p['pool_id']}/nodes/{p['node_id']}"


async def list_files(req: Request) -> Response:
    q = ListQuery(req, "files")
    root, base = _file_root(req)
    recursive = req.query_params.get("recursive", "false").lower() == "true"
    items = [files.wire_file(f, base) for f in _st(req).list_files(root, recursive)]
    return q.page_of([i for i in items if q.pred is None or q.pred(i)])


async def one_file(req: Request) -> Response:
    st = _st(req)
    root, _ = _file_root(req)
    if req.method == "DELETE":
        st.delete_file(root, _p(req, "file_path"))
        return empty(200)
    return files.file_response(req, st.file(root, _p(req, "file_path")), f"{st.ctx.base_url}{req.url.path}")
