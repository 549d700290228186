"""The msrest-based azure-batch 14.x SDK (`BatchServiceClient` + `SharedKeyCredentials`, api-version
2024-02-01.19.0) against the emulator, unchanged: pools, jobs, tasks (single and collection), lists with
$filter/$select and nextLink paging, task counts, task files, terminate/delete, and Batch's error shape."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

import azure.batch.models as bm
import pytest
from azure.batch import BatchServiceClient
from azure.batch.batch_auth import SharedKeyCredentials
from azure.batch.custom.custom_errors import CreateTasksErrorException

from tests.compat import support
from tests.compat.support import unique

IMAGE = bm.ImageReference(publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts",
                          version="latest")
NODE_AGENT = "batch.node.ubuntu 22.04"


wait_for = partial(support.wait_for, timeout=30.0, interval=0.05)


@pytest.fixture(scope="module")
def client(emulator) -> BatchServiceClient:
    c = BatchServiceClient(SharedKeyCredentials(emulator.account, emulator.key), batch_url=emulator.url)
    c.config.retry_policy.retries = 0
    return c


@pytest.fixture(scope="module")
def pool(client: BatchServiceClient) -> str:
    pool_id = unique("pool")
    client.pool.add(bm.PoolAddParameter(
        id=pool_id, vm_size="standard_d2s_v3", target_dedicated_nodes=1, task_slots_per_node=4,
        virtual_machine_configuration=bm.VirtualMachineConfiguration(image_reference=IMAGE,
                                                                     node_agent_sku_id=NODE_AGENT)))
    wait_for(lambda: client.pool.get(pool_id).allocation_state == bm.AllocationState.steady)
    return pool_id


def new_job(client: BatchServiceClient, pool_id: str, **kwargs: Any) -> str:
    job_id = unique("job")
    client.job.add(bm.JobAddParameter(id=job_id, pool_info=bm.PoolInformation(pool_id=pool_id), **kwargs))
    return job_id


def wait_task(client: BatchServiceClient, job_id: str, task_id: str) -> bm.CloudTask:
    return wait_for(lambda: (t := client.task.get(job_id, task_id)).state == bm.TaskState.completed and t)


def sh(task_id: str, script: str, **kwargs: Any) -> bm.TaskAddParameter:
    return bm.TaskAddParameter(id=task_id, command_line=f"/bin/sh -c '{script}'", **kwargs)


# --- pools, nodes, account ----------------------------------------------------------------------------
def test_pool_add_get_exists_list(client: BatchServiceClient, pool: str) -> None:
    got = client.pool.get(pool)
    assert (got.id, got.vm_size, got.task_slots_per_node) == (pool, "standard_d2s_v3", 4)
    assert got.state == bm.PoolState.active and got.current_dedicated_nodes == 1
    assert got.virtual_machine_configuration.node_agent_sku_id == NODE_AGENT
    assert isinstance(got.creation_time, datetime) and got.e_tag
    assert client.pool.exists(pool) is True
    assert client.pool.exists(unique("nope")) is False
    listed = list(client.pool.list(bm.PoolListOptions(filter=f"id eq '{pool}'", select="id,state")))
    assert [(p.id, p.state, p.vm_size) for p in listed] == [(pool, bm.PoolState.active, None)]
    nodes = list(client.compute_node.list(pool))
    assert len(nodes) == 1 and nodes[0].state in (bm.ComputeNodeState.idle, bm.ComputeNodeState.running)
    node = client.compute_node.get(pool, nodes[0].id)
    assert node.id == nodes[0].id and node.is_dedicated is True
    counts = {c.pool_id: c for c in client.account.list_pool_node_counts()}
    assert counts[pool].dedicated.total == 1
    images = list(client.account.list_supported_images())
    assert any(i.node_agent_sku_id == NODE_AGENT for i in images)


def test_pool_add_headers_and_resize(client: BatchServiceClient) -> None:
    pool_id = unique("pool")
    vm = bm.VirtualMachineConfiguration(image_reference=IMAGE, node_agent_sku_id=NODE_AGENT)
    raw = client.pool.add(bm.PoolAddParameter(id=pool_id, vm_size="standard_d2s_v3", target_dedicated_nodes=0,
                                              virtual_machine_configuration=vm), raw=True)
    assert raw.response.status_code == 201
    assert raw.headers["DataServiceId"].endswith(f"/pools/{pool_id}")
    assert raw.headers["ETag"].startswith("0x") and isinstance(raw.headers["Last-Modified"], datetime)
    assert raw.headers["request-id"]
    wait_for(lambda: client.pool.get(pool_id).allocation_state == bm.AllocationState.steady)
    client.pool.resize(pool_id, bm.PoolResizeParameter(target_dedicated_nodes=2))
    wait_for(lambda: (p := client.pool.get(pool_id)).allocation_state == bm.AllocationState.steady
             and p.current_dedicated_nodes == 2)
    client.pool.patch(pool_id, bm.PoolPatchParameter(metadata=[bm.MetadataItem(name="k", value="v")],
                                                      start_task=bm.StartTask(command_line="/bin/true")))
    got = client.pool.get(pool_id)
    assert [(m.name, m.value) for m in got.metadata] == [("k", "v")] and got.start_task.command_line == "/bin/true"
    client.pool.update_properties(pool_id, bm.PoolUpdatePropertiesParameter(
        certificate_references=[], application_package_references=[], metadata=[bm.MetadataItem(name="k", value="w")]))
    got = client.pool.get(pool_id)
    assert [(m.name, m.value) for m in got.metadata] == [("k", "w")] and got.start_task is None
    client.pool.enable_auto_scale(pool_id, auto_scale_formula="$TargetDedicatedNodes=1;")
    run = client.pool.evaluate_auto_scale(pool_id, "$TargetDedicatedNodes=3;")
    assert "$TargetDedicatedNodes=3" in run.results and run.error is None
    client.pool.disable_auto_scale(pool_id)
    assert client.pool.get(pool_id).enable_auto_scale is False
    client.pool.delete(pool_id)
    wait_for(lambda: not client.pool.exists(pool_id))


# --- jobs and tasks -----------------------------------------------------------------------------------
def test_job_add_get_patch_list(client: BatchServiceClient, pool: str) -> None:
    job_id = unique("job")
    raw = client.job.add(bm.JobAddParameter(id=job_id, pool_info=bm.PoolInformation(pool_id=pool), priority=5),
                         raw=True)
    assert raw.response.status_code == 201 and raw.headers["DataServiceId"].endswith(f"/jobs/{job_id}")
    job = client.job.get(job_id)
    assert (job.id, job.priority, job.state, job.pool_info.pool_id) == (job_id, 5, bm.JobState.active, pool)
    client.job.patch(job_id, bm.JobPatchParameter(priority=7))
    assert client.job.get(job_id).priority == 7
    client.job.update(job_id, bm.JobUpdateParameter(pool_info=bm.PoolInformation(pool_id=pool), priority=9))
    assert client.job.get(job_id).priority == 9
    etag = client.job.get(job_id).e_tag
    with pytest.raises(bm.BatchErrorException) as info:
        client.job.patch(job_id, bm.JobPatchParameter(priority=1), bm.JobPatchOptions(if_match="0x8D0000000000000"))
    assert info.value.response.status_code == 412 and info.value.error.code == "ConditionNotMet"
    client.job.patch(job_id, bm.JobPatchParameter(priority=9), bm.JobPatchOptions(if_match=etag))
    client.job.disable(job_id, "requeue")
    wait_for(lambda: client.job.get(job_id).state == bm.JobState.disabled)
    client.job.enable(job_id)
    wait_for(lambda: client.job.get(job_id).state == bm.JobState.active)
    with pytest.raises(bm.BatchErrorException) as info:  # the job has no preparation task: Batch's 409
        list(client.job.list_preparation_and_release_task_status(job_id))
    assert info.value.error.code == "JobPreparationTaskNotSpecified"
    ids = [j.id for j in client.job.list(bm.JobListOptions(filter="state eq 'active'", select="id", max_results=1))]
    assert job_id in ids


def test_tasks_end_to_end(client: BatchServiceClient, pool: str) -> None:
    job_id = new_job(client, pool)
    raw = client.task.add(job_id, sh("single", "echo hello-from-14; echo oops >&2"), raw=True)
    assert raw.response.status_code == 201 and raw.headers["DataServiceId"].endswith(f"/jobs/{job_id}/tasks/single")
    # 150 tasks through the patched add_collection: split into chunks of at most 100, two threads.
    result = client.task.add_collection(job_id, [sh(f"c{i:03d}", f"echo c{i}") for i in range(150)], threads=2)
    assert len(result.value) == 150 and {r.status for r in result.value} == {bm.TaskAddStatus.success}
    # Per-task results: a duplicate comes back as clienterror TaskExists, which the helper accepts...
    mixed = client.task.add_collection(job_id, [sh("c000", "echo again"), sh("extra", "echo extra")])
    results = {r.task_id: r for r in mixed.value}
    assert results["extra"].status == bm.TaskAddStatus.success
    assert results["c000"].status == bm.TaskAddStatus.client_error and results["c000"].error.code == "TaskExists"
    # ...while any other client error is raised with the failed task's result.
    with pytest.raises(CreateTasksErrorException) as info:
        client.task.add_collection(job_id, [bm.TaskAddParameter(id="no_command", command_line="")])
    failed = info.value.failure_tasks
    assert [(r.task_id, r.error.code) for r in failed] == [("no_command", "MissingRequiredProperty")]
    counts = wait_for(lambda: (c := client.job.get_task_counts(job_id)).task_counts.completed == 152 and c)
    assert counts.task_counts.succeeded == 152 and counts.task_counts.failed == 0
    assert counts.task_slot_counts.completed == 152

    # $filter + $select + maxresults: pages through odata.nextLink, which the 14.x SDK follows verbatim.
    options = bm.TaskListOptions(filter="state eq 'completed' and startswith(id, 'c')", select="id,state",
                                 max_results=40)
    listed = list(client.task.list(job_id, options))
    assert len(listed) == 150 and len({t.id for t in listed}) == 150
    assert all(t.state == bm.TaskState.completed and t.command_line is None for t in listed)

    task = wait_task(client, job_id, "single")
    assert task.execution_info.exit_code == 0 and task.execution_info.result == bm.TaskExecutionResult.success
    assert task.node_info.pool_id == pool
    out = b"".join(client.file.get_from_task(job_id, "single", "stdout.txt"))
    assert out == b"hello-from-14\n"
    assert b"".join(client.file.get_from_task(job_id, "single", "stderr.txt")) == b"oops\n"
    ranged = client.file.get_from_task(job_id, "single", "stdout.txt",
                                       bm.FileGetFromTaskOptions(ocp_range="bytes=0-4"))
    assert b"".join(ranged) == b"hello"
    props = client.file.get_properties_from_task(job_id, "single", "stdout.txt", raw=True)
    assert props.headers["Content-Length"] == 14 and props.headers["ocp-batch-file-isdirectory"] is False
    assert isinstance(props.headers["Last-Modified"], datetime)
    names = {f.name for f in client.file.list_from_task(job_id, "single", recursive=True)}
    assert {"stdout.txt", "stderr.txt", "wd"} <= names


def test_task_update_terminate_reactivate_delete(client: BatchServiceClient, pool: str) -> None:
    job_id = new_job(client, pool)
    client.task.add(job_id, bm.TaskAddParameter(id="slow", command_line="/bin/sleep 60"))
    wait_for(lambda: client.task.get(job_id, "slow").state == bm.TaskState.running)
    client.task.update(job_id, "slow", constraints=bm.TaskConstraints(max_task_retry_count=2))
    assert client.task.list_subtasks(job_id, "slow").value == []
    assert client.task.get(job_id, "slow").constraints.max_task_retry_count == 2
    client.task.terminate(job_id, "slow")
    task = wait_task(client, job_id, "slow")
    assert task.execution_info.result == bm.TaskExecutionResult.failure
    assert task.execution_info.failure_info.code == "TaskEnded"
    client.task.add(job_id, bm.TaskAddParameter(id="bad", command_line="/bin/sh -c 'exit 3'"))
    assert wait_task(client, job_id, "bad").execution_info.exit_code == 3
    client.task.reactivate(job_id, "bad")
    assert wait_task(client, job_id, "bad").execution_info.exit_code == 3
    client.task.delete(job_id, "bad")
    with pytest.raises(bm.BatchErrorException) as info:
        client.task.get(job_id, "bad")
    assert info.value.error.code == "TaskNotFound" and info.value.response.status_code == 404


def test_job_terminate_and_delete(client: BatchServiceClient, pool: str) -> None:
    job_id = new_job(client, pool)
    client.task.add(job_id, bm.TaskAddParameter(id="long", command_line="/bin/sleep 60"))
    wait_for(lambda: client.task.get(job_id, "long").state == bm.TaskState.running)
    raw = client.job.terminate(job_id, terminate_reason="compat-test", raw=True)
    assert raw.response.status_code == 202
    job = wait_for(lambda: (j := client.job.get(job_id)).state == bm.JobState.completed and j)
    assert job.execution_info.terminate_reason == "compat-test"
    assert client.task.get(job_id, "long").state == bm.TaskState.completed
    raw = client.job.delete(job_id, raw=True)
    assert raw.response.status_code == 202

    def gone() -> bool:
        try:
            client.job.get(job_id)
        except bm.BatchErrorException as e:
            return e.error.code == "JobNotFound"
        return False
    wait_for(gone)


# --- job schedules ----------------------------------------------------------------------------------------
def test_job_schedule_with_a_job_manager_and_its_token(client: BatchServiceClient, pool: str) -> None:
    """A schedule that runs once: its job's manager sees AZ_BATCH_AUTHENTICATION_TOKEN (exit 0 only then) and
    ends the job (killJobOnCompletion), which completes the schedule."""
    schedule_id = unique("sched")
    manager = bm.JobManagerTask(id="jm", command_line="/bin/sh -c 'test -n \"$AZ_BATCH_AUTHENTICATION_TOKEN\"'",
                                authentication_token_settings=bm.AuthenticationTokenSettings(access=[bm.AccessScope.job]))
    client.job_schedule.add(bm.JobScheduleAddParameter(id=schedule_id, schedule=bm.Schedule(), job_specification=
                            bm.JobSpecification(pool_info=bm.PoolInformation(pool_id=pool), job_manager_task=manager)))
    assert client.job_schedule.exists(schedule_id) is True
    assert schedule_id in [s.id for s in client.job_schedule.list()]
    done = wait_for(lambda: (s := client.job_schedule.get(schedule_id)).state == bm.JobScheduleState.completed and s)
    assert done.execution_info.recent_job.id == f"{schedule_id}:job-1"
    [job] = client.job.list_from_job_schedule(schedule_id)
    assert job.execution_info.terminate_reason == "JMComplete"
    assert client.task.get(job.id, "jm").execution_info.exit_code == 0
    with pytest.raises(bm.BatchErrorException) as info:
        client.job_schedule.disable(schedule_id)
    assert info.value.error.code == "JobScheduleCompleted"
    assert client.job_schedule.delete(schedule_id, raw=True).response.status_code == 202
    wait_for(lambda: not client.job_schedule.exists(schedule_id))


# --- errors -------------------------------------------------------------------------------------------
def test_errors_are_batch_error_exceptions(client: BatchServiceClient, pool: str) -> None:
    job_id = new_job(client, pool)
    with pytest.raises(bm.BatchErrorException) as info:
        client.job.add(bm.JobAddParameter(id=job_id, pool_info=bm.PoolInformation(pool_id=pool)))
    err = info.value
    assert err.response.status_code == 409 and err.error.code == "JobExists"
    assert err.error.message.lang == "en-US" and "already exists" in err.error.message.value
    assert err.response.headers["request-id"] in err.error.message.value
    with pytest.raises(bm.BatchErrorException) as info:
        client.job.get(unique("missing"))
    assert info.value.error.code == "JobNotFound" and info.value.response.status_code == 404
    with pytest.raises(bm.BatchErrorException) as info:
        client.task.add(job_id, bm.TaskAddParameter(id="bad id!", command_line="/bin/true"))
    assert info.value.error.code == "InvalidPropertyValue"
    assert {d.key: d.value for d in info.value.error.values}["PropertyName"] == "id"
    with pytest.raises(bm.BatchErrorException) as info:
        list(client.task.list(job_id, bm.TaskListOptions(filter="state eq")))
    assert info.value.error.code == "InvalidQueryParameterValue"


def test_wrong_key_is_rejected(emulator) -> None:
    import base64
    import os

    wrong = BatchServiceClient(SharedKeyCredentials(emulator.account, base64.b64encode(os.urandom(32)).decode()),
                               batch_url=emulator.url)
    wrong.config.retry_policy.retries = 0
    with pytest.raises(bm.BatchErrorException) as info:
        wrong.job.get("anything")
    assert info.value.response.status_code == 403 and info.value.error.code == "AuthenticationFailed"


def test_unsupported_api_version_is_refused(client: BatchServiceClient, emulator) -> None:
    """The emulator accepts the GA versions 2022-01-01.15.0 .. 2025-06-01 and refuses others like Batch."""
    old = BatchServiceClient(SharedKeyCredentials(emulator.account, emulator.key), batch_url=emulator.url)
    old.config.retry_policy.retries = 0
    old.job.api_version = "2021-06-01.14.0"
    with pytest.raises(bm.BatchErrorException) as info:
        old.job.get("anything")
    err = info.value
    assert err.response.status_code == 400 and err.error.code == "UnsupportedRequestVersion"
    details = {d.key: d.value for d in err.error.values}
    assert details["QueryParameterName"] == "api-version" and details["QueryParameterValue"] == "2021-06-01.14.0"
    for version in ("2023-11-01.18.0", "2024-07-01.20.0", "2025-06-01"):
        old.job.api_version = version
        with pytest.raises(bm.BatchErrorException) as info:
            old.job.get(unique("missing"))
        assert info.value.error.code == "JobNotFound"
