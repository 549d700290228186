"""What pools, nodes and job preparation/release status carry, as Batch shows them, through the real
BatchClient: inter-node communication, node agent/VM/endpoint information, the pool's start task and
dual-stack address on its nodes, per-node task counters kept true, status URLs, and lists paged by maxresults."""

from __future__ import annotations

import pytest
from azure.batch import models as m

# Not exported by azure-batch 15.1, and terminate fails without a non-empty options object: the SDK's own model.
from azure.batch.models._models import BatchJobTerminateOptions

from bigcompute.local.testing import make_job, make_pool, signed, wait_for, wait_task

Q = "api-version=2025-06-01"


def _node(batch, pool_id: str) -> m.BatchNode:
    return wait_for(lambda: next(iter(batch.list_nodes(pool_id)), None))


@pytest.mark.parametrize("inter_node", [False, True])
def test_pool_reads_carry_inter_node_communication_and_the_mode_in_effect(batch, inter_node) -> None:
    pool_id = make_pool(batch, enable_inter_node_communication=inter_node)
    pool = batch.get_pool(pool_id)
    assert pool.enable_inter_node_communication is inter_node
    assert pool["currentNodeCommunicationMode"] == "classic"  # read-only; azure-batch 15 has no attribute for it


def test_nodes_show_agent_vm_endpoints_start_task_and_a_dual_stack_address(batch) -> None:
    start = m.BatchStartTask(command_line="/bin/true")
    dual = m.NetworkConfiguration(public_ip_address_configuration=m.BatchPublicIpAddressConfiguration(
        ip_families=["IPv4", "IPv6"]))
    pool_id = make_pool(batch, start_task=start, network_configuration=dual)
    node = _node(batch, pool_id)
    assert node.node_agent_info.version and node.virtual_machine_info.image_reference.sku == "server"
    assert node.endpoint_configuration.inbound_endpoints == []
    assert node.start_task.command_line == "/bin/true" and node.ipv6_address == "::1"
    plain = _node(batch, make_pool(batch))
    assert plain.start_task is None and plain.ipv6_address is None


def test_per_node_task_counters_count_runs_and_successes(batch) -> None:
    pool_id = make_pool(batch, nodes=1)
    job_id = make_job(batch, pool_id)
    for task_id, command in (("a", "/bin/true"), ("b", "/bin/sh -c 'exit 3'"), ("c", "/bin/true")):
        batch.create_task(job_id, m.BatchTaskCreateOptions(id=task_id, command_line=command))
        wait_task(batch, job_id, task_id)
    node = _node(batch, pool_id)
    assert (node.total_tasks_run, node.total_tasks_succeeded) == (3, 2)
    assert (node.running_tasks_count, node.running_task_slots_count) == (0, 0)


def test_running_counters_show_the_task_and_its_slots(process_batch) -> None:
    pool_id = make_pool(process_batch, nodes=1, slots=3)
    job_id = make_job(process_batch, pool_id)
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="long", command_line="sleep 30", required_slots=2))
    node = wait_for(lambda: (n := _node(process_batch, pool_id)).running_tasks_count == 1 and n)
    assert (node.state, node.running_task_slots_count, node.total_tasks_run) == ("running", 2, 0)
    process_batch.terminate_task(job_id, "long")
    node = wait_for(lambda: (n := _node(process_batch, pool_id)).running_tasks_count == 0 and n)
    assert (node.running_task_slots_count, node.total_tasks_run, node.total_tasks_succeeded) == (0, 1, 0)


def test_release_status_names_the_node_and_the_release_folder(batch) -> None:
    pool_id = make_pool(batch, nodes=1)
    job_id = make_job(batch, pool_id, job_preparation_task=m.BatchJobPreparationTask(command_line="/bin/true"),
                      job_release_task=m.BatchJobReleaseTask(command_line="/bin/true"))
    batch.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/bin/true"))
    wait_task(batch, job_id, "t")
    batch.begin_terminate_job(job_id, BatchJobTerminateOptions(termination_reason="done"),
                              polling_interval=0).result()
    status = wait_for(lambda: (s := next(iter(batch.list_job_preparation_and_release_task_status(job_id))))
                      .job_release_task_execution_info and s)
    assert status.node_url.endswith(f"/pools/{pool_id}/nodes/{status.node_id}")
    for info in (status.job_preparation_task_execution_info, status.job_release_task_execution_info):
        assert info.task_root_directory_url == f"{status.node_url}/files/{info.task_root_directory}"


def test_task_file_lists_page_by_maxresults(process_emulator, process_batch) -> None:
    pool_id = make_pool(process_batch, nodes=1)
    job_id = make_job(process_batch, pool_id)
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/bin/sh -c 'touch a b c'"))
    wait_task(process_batch, job_id, "t")
    everything = sorted(f.name for f in process_batch.list_task_files(job_id, "t", recursive=True))
    assert {"wd/a", "wd/b", "wd/c", "stdout.txt"} <= set(everything)
    page = signed(process_emulator, "GET", f"/jobs/{job_id}/tasks/t/files", f"{Q}&recursive=true&maxresults=2").json()
    assert len(page["value"]) == 2 and "maxresults=2" in page["odata.nextLink"]
    assert sorted(f.name for f in process_batch.list_task_files(job_id, "t", recursive=True, max_results=2)) \
        == everything  # the SDK follows the links
