"""The node files API (list, get, HEAD, delete) over a node's folders, `startup/stdout.txt` and
`startup/stderr.txt` included; and the conditions a test can ask the emulator for (a failed resize, an
unusable node) through its control routes, so `bigcompute doctor` meets them as it would on Azure."""

from __future__ import annotations

import json

import pytest
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from bigcompute.local.testing import make_job, make_pool, signed, wait_for, wait_task


def _node(batch, pool_id: str, state: str | None = None) -> m.BatchNode:
    return wait_for(lambda: next((n for n in batch.list_nodes(pool_id) if state is None or n.state == state), None))


def test_a_failed_start_tasks_output_is_served_from_the_node(process_batch) -> None:
    start = m.BatchStartTask(command_line="/bin/sh -c 'echo installing; echo E: no package pythn3 >&2; exit 100'",
                             wait_for_success=True)
    pool_id = make_pool(process_batch, nodes=1, start_task=start)
    node = _node(process_batch, pool_id, "starttaskfailed")
    listed = {f.name: f for f in process_batch.list_node_files(pool_id, node.id, recursive=True,
                                                               filter="startswith(name,'startup')")}
    assert {"startup/stdout.txt", "startup/stderr.txt"} <= listed.keys()
    assert all(name.startswith("startup") for name in listed)
    assert listed["startup/stderr.txt"].properties.content_length == len(b"E: no package pythn3\n")
    assert listed["startup/stderr.txt"].url.endswith(f"/pools/{pool_id}/nodes/{node.id}/files/startup/stderr.txt")
    data = b"".join(process_batch.download_node_file(pool_id, node.id, "startup/stderr.txt"))
    assert data == b"E: no package pythn3\n"
    tail = b"".join(process_batch.download_node_file(pool_id, node.id, "startup/stderr.txt", ocp_range="bytes=3-"))
    assert tail == b"no package pythn3\n"
    props = process_batch.get_node_file_properties(pool_id, node.id, "startup/stdout.txt")
    assert props.content_length == len(b"installing\n") and props.is_directory is False
    top = {f.name for f in process_batch.list_node_files(pool_id, node.id)}
    assert {"shared", "startup", "workitems"} <= top and not any("/" in name for name in top)


def test_task_files_are_under_workitems_and_can_be_deleted(process_batch) -> None:
    pool_id = make_pool(process_batch, nodes=1)
    job_id = make_job(process_batch, pool_id)
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/bin/sh -c 'echo hi > out.txt'"))
    task = wait_task(process_batch, job_id, "t")
    node_id = task.node_info.node_id
    path = f"{task.node_info.task_root_directory}/wd/out.txt"
    assert b"".join(process_batch.download_node_file(pool_id, node_id, path)) == b"hi\n"
    process_batch.delete_node_file(pool_id, node_id, path)
    with pytest.raises(ResourceNotFoundError):
        process_batch.get_node_file_properties(pool_id, node_id, path)
    with pytest.raises(ResourceNotFoundError):
        process_batch.get_task_file_properties(job_id, "t", "wd/out.txt")


def test_node_paths_never_leave_the_node(process_emulator, process_batch) -> None:
    pool_id = make_pool(process_batch, nodes=1)
    node = _node(process_batch, pool_id)
    for path in ("../../state.db", "%2E%2E/%2E%2E/state.db", "startup/../../x"):
        resp = signed(process_emulator, "GET", f"/pools/{pool_id}/nodes/{node.id}/files/{path}",
                      "api-version=2025-06-01")
        # Never served: a 404 where the path reaches the emulator, a 403 where the client normalized the `..`
        # away after signing (the signature no longer matches).
        assert resp.status_code in (403, 404) and b"SQLite" not in resp.content, (path, resp.status_code)
    with pytest.raises(HttpResponseError) as info:
        list(process_batch.list_node_files(pool_id, "tvm-no-such-node"))
    assert info.value.error.code == "NodeNotFound"


# --- conditions on request ----------------------------------------------------------------------------------
def _control(emulator, path: str, body: dict) -> None:
    resp = signed(emulator, "POST", f"/_emulator{path}", "api-version=2025-06-01", json.dumps(body).encode())
    assert resp.status_code == 204, resp.text


def test_an_unusable_node_on_request(emulator, batch) -> None:
    pool_id = make_pool(batch, nodes=2)
    node = _node(batch, pool_id)
    error = {"code": "NodeManagementConnectivityError", "message": "The node cannot reach Batch node management",
             "errorDetails": [{"name": "Endpoint", "value": "privatelink.batch.azure.com"}]}
    _control(emulator, f"/pools/{pool_id}/nodes/{node.id}/unusable", error)
    got = batch.get_node(pool_id, node.id)
    assert got.state == "unusable" and got.errors[0].code == "NodeManagementConnectivityError"
    assert got.errors[0].error_details[0].value == "privatelink.batch.azure.com"
    counts = {c.pool_id: c for c in batch.list_pool_node_counts()}[pool_id]
    assert (counts.dedicated.unusable, counts.dedicated.idle) == (1, 1)
    # No task goes to an unusable node.
    job_id = make_job(batch, pool_id)
    batch.create_tasks(job_id, [m.BatchTaskCreateOptions(id=f"t{i}", command_line="/bin/true") for i in range(4)])
    assert {wait_task(batch, job_id, f"t{i}").node_info.node_id for i in range(4)} == \
        {n.id for n in batch.list_nodes(pool_id) if n.id != node.id}


def test_a_resize_error_on_request(emulator, batch) -> None:
    pool_id = make_pool(batch, nodes=1)
    _control(emulator, f"/pools/{pool_id}/resizeerror", {
        "code": "AccountCoreQuotaReached", "message": "The specified account has reached core quota",
        "values": [{"name": "Reason", "value": "Required 640, available 20"}]})
    batch.begin_resize_pool(pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=40), polling_interval=0).result()
    pool = wait_for(lambda: (p := batch.get_pool(pool_id)).allocation_state == "steady" and p.resize_errors and p)
    assert pool.resize_errors[0].code == "AccountCoreQuotaReached"
    assert pool.resize_errors[0].error_values[0].value == "Required 640, available 20"
    assert (pool.current_dedicated_nodes, pool.target_dedicated_nodes) == (1, 40)
    # One failure, as asked: the next resize allocates and clears the errors.
    batch.begin_resize_pool(pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=2), polling_interval=0).result()
    pool = wait_for(lambda: (p := batch.get_pool(pool_id)).allocation_state == "steady" and
                    p.current_dedicated_nodes == 2 and p)
    assert not pool.resize_errors


def test_a_control_route_needs_the_account_key(emulator) -> None:
    import requests

    resp = requests.post(f"{emulator.url}/_emulator/pools/x/resizeerror?api-version=2025-06-01", json={"code": "X"},
                         timeout=10)
    assert resp.status_code == 403


def test_rebooting_an_unusable_node_mends_it(emulator, batch) -> None:
    from azure.batch.models._models import BatchNodeRebootOptions

    pool_id = make_pool(batch, nodes=1)
    node = _node(batch, pool_id, "idle")
    _control(emulator, f"/pools/{pool_id}/nodes/{node.id}/unusable", {"code": "DiskFull", "message": "full"})
    batch.begin_reboot_node(pool_id, node.id, BatchNodeRebootOptions(node_reboot_kind="requeue"),
                            polling_interval=0).result()
    node = wait_for(lambda: (n := batch.get_node(pool_id, node.id)).state == "idle" and n)
    assert not node.errors
