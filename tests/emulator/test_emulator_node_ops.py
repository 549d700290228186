"""Node operations through the real BatchClient: reboot and reimage (with what they do to running tasks and the
start task), deallocate and start, disable/enable scheduling, remove nodes, service logs to Azurite; remote login and
VM extensions refused or empty, Batch-shaped (node users: test_emulator_node_users.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.batch import models as m

# Not exported by azure-batch 15.1, and its node operations fail without a non-empty options object (no
# content-type is sent): the SDK's own models all the same.
from azure.batch.models._models import (
    BatchNodeDeallocateOptions,
    BatchNodeRebootOptions,
    BatchNodeReimageOptions,
)
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import ContainerSasPermissions, generate_container_sas

from bigcompute.local.azurite import DEV_ACCOUNT, DEV_KEY
from bigcompute.local.testing import make_job, make_pool, wait_for, wait_task

BOOT = m.BatchStartTask(command_line="/bin/sh -c 'echo boot >> $AZ_BATCH_NODE_SHARED_DIR/boots; echo booted'",
                        wait_for_success=True)


def _idle_node(batch, pool_id: str) -> m.BatchNode:
    return wait_for(lambda: next((n for n in batch.list_nodes(pool_id) if n.state == "idle"), None))


def _boots(batch, pool_id: str, node_id: str) -> int:
    return b"".join(batch.download_node_file(pool_id, node_id, "shared/boots")).count(b"boot")


def _running(batch, job_id: str, task_id: str) -> m.BatchTask:
    return wait_for(lambda: (t := batch.get_task(job_id, task_id)).state == "running" and t)


def test_reboot_requeues_running_tasks_and_runs_the_start_task_again(process_batch) -> None:
    pool_id = make_pool(process_batch, nodes=1, start_task=BOOT)
    node = _idle_node(process_batch, pool_id)
    job_id = make_job(process_batch, pool_id)
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="long", command_line="sleep 30"))
    _running(process_batch, job_id, "long")
    poller = process_batch.begin_reboot_node(pool_id, node.id, BatchNodeRebootOptions(node_reboot_kind="requeue"),
                                             polling_interval=0)
    assert process_batch.get_node(pool_id, node.id).state == "rebooting"  # at once: its task was requeued
    poller.result()
    node = wait_for(lambda: (n := process_batch.get_node(pool_id, node.id)).state in ("idle", "running") and n)
    assert node.start_task_info.result == "success" and _boots(process_batch, pool_id, node.id) == 2
    task = wait_for(lambda: (t := process_batch.get_task(job_id, "long")).execution_info.requeue_count == 1 and t)
    assert task.state in ("active", "running")
    process_batch.terminate_task(job_id, "long")


def test_reboot_terminate_ends_tasks_and_a_second_request_meanwhile_is_409(process_batch) -> None:
    pool_id = make_pool(process_batch, nodes=1)
    node = _idle_node(process_batch, pool_id)
    job_id = make_job(process_batch, pool_id)
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="long", command_line="sleep 30"))
    _running(process_batch, job_id, "long")
    # taskcompletion: the node waits for its task, and is busy rebooting meanwhile.
    process_batch.begin_reboot_node(pool_id, node.id, BatchNodeRebootOptions(node_reboot_kind="taskcompletion"),
                                    polling_interval=0)
    with pytest.raises(HttpResponseError) as info:
        process_batch.begin_reimage_node(pool_id, node.id, BatchNodeReimageOptions(node_reimage_option="requeue"), polling_interval=0)
    assert (info.value.status_code, info.value.error.code) == (409, "NodeBeingRebooted")
    assert process_batch.get_task(job_id, "long").state == "running"
    process_batch.terminate_task(job_id, "long")
    wait_for(lambda: process_batch.get_node(pool_id, node.id).state == "idle")
    # terminate: the running task completes as ended by request.
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="again", command_line="sleep 30"))
    _running(process_batch, job_id, "again")
    process_batch.begin_reboot_node(pool_id, node.id, BatchNodeRebootOptions(node_reboot_kind="terminate"),
                                    polling_interval=0).result()
    task = wait_task(process_batch, job_id, "again")
    assert task.execution_info.failure_info.code == "TaskEnded"


def test_reimage_gives_a_fresh_disk_and_prepares_jobs_again(process_batch) -> None:
    pool_id = make_pool(process_batch, nodes=1, start_task=BOOT)
    node = _idle_node(process_batch, pool_id)
    prep = m.BatchJobPreparationTask(command_line="/bin/sh -c 'echo prep >> $AZ_BATCH_NODE_SHARED_DIR/preps'")
    job_id = make_job(process_batch, pool_id, job_preparation_task=prep)
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="a", command_line="/bin/true"))
    task = wait_task(process_batch, job_id, "a")
    assert _boots(process_batch, pool_id, node.id) == 1
    process_batch.begin_reimage_node(pool_id, node.id, BatchNodeReimageOptions(node_reimage_option="requeue"), polling_interval=0).result()
    wait_for(lambda: process_batch.get_node(pool_id, node.id).state == "idle")
    assert _boots(process_batch, pool_id, node.id) == 1  # the old disk's line is gone, the new boot wrote one
    with pytest.raises(HttpResponseError):
        process_batch.get_node_file_properties(pool_id, node.id, f"{task.node_info.task_root_directory}/stdout.txt")
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(
        id="b", command_line="/bin/sh -c 'cat $AZ_BATCH_NODE_SHARED_DIR/preps'"))
    wait_task(process_batch, job_id, "b")
    assert b"".join(process_batch.download_task_file(job_id, "b", "stdout.txt")) == b"prep\n"


def test_disable_scheduling_keeps_tasks_off_the_node_until_enabled(batch) -> None:
    pool_id = make_pool(batch, nodes=2)
    nodes = wait_for(lambda: (ns := list(batch.list_nodes(pool_id))) and len(ns) == 2 and ns)
    off = nodes[0].id
    batch.disable_node_scheduling(pool_id, off, m.BatchNodeDisableSchedulingOptions(
        node_disable_scheduling_option="requeue"))
    assert batch.get_node(pool_id, off).scheduling_state == "disabled"
    job_id = make_job(batch, pool_id)
    batch.create_tasks(job_id, [m.BatchTaskCreateOptions(id=f"t{i}", command_line="/bin/true") for i in range(6)])
    assert {wait_task(batch, job_id, f"t{i}").node_info.node_id for i in range(6)} == {nodes[1].id}
    batch.enable_node_scheduling(pool_id, off)
    batch.create_tasks(job_id, [m.BatchTaskCreateOptions(id=f"u{i}", command_line="/bin/true") for i in range(6)])
    assert off in {wait_task(batch, job_id, f"u{i}").node_info.node_id for i in range(6)}


def test_deallocate_then_start(batch) -> None:
    pool_id = make_pool(batch, nodes=1)
    node = _idle_node(batch, pool_id)
    batch.begin_deallocate_node(pool_id, node.id, BatchNodeDeallocateOptions(node_deallocate_option="requeue"), polling_interval=0).result()
    wait_for(lambda: batch.get_node(pool_id, node.id).state == "deallocated")
    job_id = make_job(batch, pool_id)
    batch.create_task(job_id, m.BatchTaskCreateOptions(id="waits", command_line="/bin/true"))
    assert batch.get_task(job_id, "waits").state == "active"
    with pytest.raises(HttpResponseError) as info:
        batch.begin_reboot_node(pool_id, node.id, BatchNodeRebootOptions(node_reboot_kind="requeue"), polling_interval=0)
    assert info.value.error.code == "OperationNotValidOnNode"
    batch.begin_start_node(pool_id, node.id, polling_interval=0).result()
    assert wait_task(batch, job_id, "waits").execution_info.result == "success"


def test_remove_nodes_shrinks_the_pool_by_those_nodes(batch) -> None:
    pool_id = make_pool(batch, nodes=3)
    nodes = wait_for(lambda: (ns := list(batch.list_nodes(pool_id))) and len(ns) == 3 and ns)
    gone = nodes[1].id
    batch.begin_remove_nodes(pool_id, m.BatchNodeRemoveOptions(node_ids=[gone]), polling_interval=0).result()
    pool = wait_for(lambda: (p := batch.get_pool(pool_id)).allocation_state == "steady" and p)
    assert (pool.target_dedicated_nodes, pool.current_dedicated_nodes) == (2, 2)
    assert gone not in {n.id for n in batch.list_nodes(pool_id)}
    with pytest.raises(HttpResponseError) as info:
        batch.begin_remove_nodes(pool_id, m.BatchNodeRemoveOptions(node_ids=["tvm-nope"]), polling_interval=0)
    assert info.value.error.code == "NodeNotFound"


def test_service_logs_are_uploaded_to_the_container(process_batch, azurite) -> None:
    pool_id = make_pool(process_batch, nodes=1, start_task=BOOT)
    node = _idle_node(process_batch, pool_id)
    container = f"logs-{uuid.uuid4().hex[:8]}"
    azurite.service().create_container(container)
    sas = generate_container_sas(DEV_ACCOUNT, container, account_key=DEV_KEY,
                                 permission=ContainerSasPermissions(write=True, create=True),
                                 expiry=datetime.now(UTC) + timedelta(hours=1))
    result = process_batch.upload_node_logs(pool_id, node.id, m.UploadBatchServiceLogsOptions(
        container_url=f"{azurite.blob_endpoint}/{container}?{sas}", start_time=datetime.now(UTC) - timedelta(hours=1)))
    assert result.number_of_files_uploaded == 2
    names = {b.name for b in azurite.service().get_container_client(container).list_blobs()}
    assert names == {f"{result.virtual_directory_name}/stdout.txt", f"{result.virtual_directory_name}/stderr.txt"}


def test_remote_login_refused_and_extensions_empty(batch) -> None:
    pool_id = make_pool(batch, nodes=1)
    node = _idle_node(batch, pool_id)
    with pytest.raises(HttpResponseError) as info:
        batch.get_node_remote_login_settings(pool_id, node.id)
    assert (info.value.status_code, info.value.error.code) == (409, "OperationNotValidOnNode")
    assert "not supported by the local target" in info.value.error.message
    assert list(batch.list_node_extensions(pool_id, node.id)) == []


def test_pools_and_nodes_carry_batchs_read_only_properties(batch) -> None:
    pool_id = make_pool(batch, nodes=1)
    assert batch.get_pool(pool_id).enable_inter_node_communication is False
    node = _idle_node(batch, pool_id)
    assert node.virtual_machine_info.image_reference.offer == "ubuntu-24_04-lts"
    assert node.node_agent_info.version and node.node_agent_info.last_update_time == node.allocation_time
    assert node.endpoint_configuration.inbound_endpoints == []


def test_node_and_file_lists_page_by_maxresults(emulator, batch) -> None:
    from bigcompute.local.testing import signed

    pool_id = make_pool(batch, nodes=3)
    wait_for(lambda: len(list(batch.list_nodes(pool_id))) == 3)
    page = signed(emulator, "GET", f"/pools/{pool_id}/nodes", "api-version=2025-06-01&maxresults=2").json()
    assert len(page["value"]) == 2 and "maxresults=2" in page["odata.nextLink"]
    assert len({n.id for n in batch.list_nodes(pool_id, max_results=1)}) == 3  # the SDK follows the links
