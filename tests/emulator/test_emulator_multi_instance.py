"""Multi-instance (MPI) tasks on the emulator through the real SDK: the coordination command on every node, then
the application command on the primary alone; the multi-instance variables each instance sees; the subtasks'
listing; the task holding all its nodes; and the refusals Batch's rules call for."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError

from bigcompute.local.testing import make_job, make_pool, wait_for, wait_task

# What an instance sees of the multi-instance variables, as one JSON line.
_SEEN = ("import json, os; keys = ['AZ_BATCH_HOST_LIST', 'AZ_BATCH_NODE_LIST', 'AZ_BATCH_MASTER_NODE', "
         "'AZ_BATCH_IS_CURRENT_NODE_MASTER', 'AZ_BATCH_TASK_SHARED_DIR', 'AZ_BATCH_NODE_ID', 'CCP_NODES', "
         "'AZ_BATCH_TASK_ID']; print(json.dumps({k: os.environ.get(k) for k in keys}))")


def _delete(batch, job_id: str, pool_id: str) -> None:
    batch.begin_delete_job(job_id, polling_interval=0).result()
    batch.begin_delete_pool(pool_id, polling_interval=0).result()


def _mi_task(task_id: str, nodes: int, command: str, coordination: str, **kwargs) -> m.BatchTaskCreateOptions:
    return m.BatchTaskCreateOptions(id=task_id, command_line=command, multi_instance_settings=m.MultiInstanceSettings(
        number_of_instances=nodes, coordination_command_line=coordination), **kwargs)


@pytest.fixture(scope="module")
def mpi_pool(process_emulator) -> str:
    return make_pool(process_emulator.client(), nodes=3, slots=1, enable_inter_node_communication=True)


def _text(batch, job_id: str, task_id: str, name: str = "stdout.txt") -> str:
    return b"".join(batch.download_task_file(job_id, task_id, name)).decode()


def test_coordination_runs_on_every_node_then_the_command_on_the_primary(process_batch, mpi_pool, tmp_path) -> None:
    job_id = make_job(process_batch, mpi_pool)
    log, probe = tmp_path / "order.log", tmp_path / "seen.py"
    probe.write_text(_SEEN)
    tmp_path.chmod(0o777)  # a task user (when the emulator runs as root) appends to the log
    # every coordination command records itself, sleeps, then records its end; the application command records
    # itself: it must come after every coordination end
    coordination = (f"/bin/sh -c 'echo start $AZ_BATCH_NODE_ID >> {log}; python3 {probe} > "
                    f"$AZ_BATCH_TASK_SHARED_DIR/seen.json; sleep 0.3; echo end $AZ_BATCH_NODE_ID >> {log}'")
    command = f"/bin/sh -c 'echo app $AZ_BATCH_NODE_ID >> {log}; python3 {probe}'"
    process_batch.create_task(job_id, _mi_task("mpi", 3, command, coordination))
    task = wait_task(process_batch, job_id, "mpi", timeout=30)
    assert task.execution_info.exit_code == 0, _text(process_batch, job_id, "mpi", "stderr.txt")

    lines = log.read_text().split()
    events = list(zip(lines[::2], lines[1::2], strict=True))
    starts = [n for e, n in events if e == "start"]
    assert len(set(starts)) == 3  # one coordination command per node, three distinct nodes
    assert [e for e, _ in events][-1] == "app" and [e for e, _ in events].count("app") == 1
    assert sorted(n for e, n in events if e == "end") == sorted(starts)
    primary_node = task.node_info.node_id
    assert events[-1][1] == primary_node

    app = json.loads(_text(process_batch, job_id, "mpi"))
    assert app["AZ_BATCH_HOST_LIST"] == "127.0.0.1,127.0.0.1,127.0.0.1"
    assert app["AZ_BATCH_NODE_LIST"] == "127.0.0.1;127.0.0.1;127.0.0.1"
    assert app["AZ_BATCH_MASTER_NODE"].startswith("127.0.0.1:")
    assert app["AZ_BATCH_IS_CURRENT_NODE_MASTER"] == "true"
    assert app["CCP_NODES"] == "3 127.0.0.1 1 127.0.0.1 1 127.0.0.1 1"
    assert app["AZ_BATCH_TASK_SHARED_DIR"].endswith(f"/workitems/{job_id}/job-1/mpi")

    subtasks = list(process_batch.list_subtasks(job_id, "mpi"))
    assert sorted(s.id for s in subtasks) == [1, 2]  # the primary (0) is not listed
    assert {s.node_info.node_id for s in subtasks} | {primary_node} == set(starts)
    for s in subtasks:
        assert s.state == "completed" and s.exit_code == 0 and s.result == "success"
        assert s.node_info.task_root_directory == f"workitems/{job_id}/job-1/mpi"
        assert s.start_time <= s.end_time
        # each subtask's own view, from its node's task folder: not the master
        seen = json.loads(b"".join(process_batch.download_node_file(
            mpi_pool, s.node_info.node_id, f"{s.node_info.task_root_directory}/seen.json")).decode())
        assert seen["AZ_BATCH_IS_CURRENT_NODE_MASTER"] == "false"
        assert seen["AZ_BATCH_NODE_ID"] == s.node_info.node_id
        assert seen["AZ_BATCH_HOST_LIST"] == app["AZ_BATCH_HOST_LIST"]
        assert seen["AZ_BATCH_TASK_ID"] == "mpi"


def test_the_task_holds_all_its_nodes_while_it_runs(process_batch, mpi_pool, tmp_path) -> None:
    job_id = make_job(process_batch, mpi_pool)
    gate = tmp_path / "go"
    process_batch.create_task(job_id, _mi_task("wide", 3, f"/bin/sh -c 'while [ ! -e {gate} ]; do sleep 0.05; done'",
                                               "/bin/sh -c true"))
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="single", command_line="/bin/sh -c true"))
    wait_for(lambda: process_batch.get_task(job_id, "wide").state == "running", timeout=20)
    nodes = wait_for(lambda: (ns := list(process_batch.list_nodes(mpi_pool)))
                     and all(n.running_tasks_count == 1 for n in ns) and ns, timeout=10)
    assert len(nodes) == 3
    running = {s.id: s.state for s in process_batch.list_subtasks(job_id, "wide")}
    assert running == {1: "running", 2: "running"}
    assert process_batch.get_task(job_id, "single").state == "active"  # no node is free for it
    gate.touch()
    assert wait_task(process_batch, job_id, "wide", timeout=20).execution_info.exit_code == 0
    assert wait_task(process_batch, job_id, "single", timeout=20).execution_info.exit_code == 0


def test_a_failed_coordination_fails_the_task_and_its_subtask(process_batch, mpi_pool, tmp_path) -> None:
    job_id = make_job(process_batch, mpi_pool)
    ran = tmp_path / "app-ran"
    # only a subtask's coordination fails: the master's succeeds
    coordination = "/bin/sh -c '[ \"$AZ_BATCH_IS_CURRENT_NODE_MASTER\" = true ] || exit 7'"
    process_batch.create_task(job_id, _mi_task("bad", 2, f"/bin/sh -c 'touch {ran}'", coordination))
    task = wait_task(process_batch, job_id, "bad", timeout=20)
    assert task.execution_info.result == "failure" and task.execution_info.exit_code == 7
    assert not ran.exists()  # the application command never started
    [sub] = process_batch.list_subtasks(job_id, "bad")
    assert (sub.state, sub.exit_code, sub.result) == ("completed", 7, "failure")


def test_common_resource_files_land_in_the_shared_folder_of_every_node(process_batch, mpi_pool, azurite) -> None:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.get_container_client("mi-common")
    if not container.exists():
        container.create_container()
    container.upload_blob("prog/hello.txt", b"hello from storage", overwrite=True)
    url = f"{azurite.blob_endpoint}/mi-common/prog/hello.txt"
    job_id = make_job(process_batch, mpi_pool)
    check = "/bin/sh -c 'grep -q \"hello from storage\" $AZ_BATCH_TASK_SHARED_DIR/prog/hello.txt'"
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(
        id="common", command_line=check, multi_instance_settings=m.MultiInstanceSettings(
            number_of_instances=2, coordination_command_line=check,
            common_resource_files=[m.ResourceFile(http_url=url, file_path="prog/hello.txt")])))
    task = wait_task(process_batch, job_id, "common", timeout=20)
    assert task.execution_info.exit_code == 0, _text(process_batch, job_id, "common", "stderr.txt")
    [sub] = process_batch.list_subtasks(job_id, "common")
    assert sub.exit_code == 0


def test_an_ordinary_task_has_no_subtasks(process_batch, mpi_pool) -> None:
    job_id = make_job(process_batch, mpi_pool)
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="plain", command_line="/bin/sh -c true"))
    wait_task(process_batch, job_id, "plain", timeout=20)
    assert list(process_batch.list_subtasks(job_id, "plain")) == []


@pytest.mark.parametrize(("pool_kwargs", "fragment"), [
    ({}, "does not enable inter-node communication"),
    ({"enable_inter_node_communication": True, "slots": 2}, "taskSlotsPerNode 2"),
])
def test_a_pool_that_would_never_schedule_it_is_refused(batch, emulator, request, pool_kwargs, fragment) -> None:
    kwargs = {"nodes": 2, "slots": 1, **pool_kwargs}
    pool_id = make_pool(emulator.client(), **kwargs)
    job_id = make_job(batch, pool_id)
    request.addfinalizer(lambda: _delete(batch, job_id, pool_id))  # the shared emulator's active-job quota
    with pytest.raises(HttpResponseError) as e:
        batch.create_task(job_id, _mi_task("mpi", 2, "/bin/sh -c true", "/bin/sh -c true"))
    assert e.value.status_code == 400 and e.value.error.code == "InvalidPropertyValue"
    assert fragment in e.value.error.message
    assert dict((d.code, d.message) for d in e.value.error.details)["PropertyName"] == "multiInstanceSettings"
    # in a collection the one task is refused, the others added
    result = batch.create_task_collection(job_id, m.BatchTaskGroup(task_values=[
        _mi_task("mpi", 2, "/bin/sh -c true", "/bin/sh -c true"),
        m.BatchTaskCreateOptions(id="ok", command_line="/bin/sh -c true")]))
    status = {r.task_id: (r.status, r.error.code if r.error else None) for r in result.result_values}
    assert status == {"mpi": ("clienterror", "InvalidPropertyValue"), "ok": ("success", None)}


@pytest.mark.parametrize(("settings", "extra", "code", "prop"), [
    ({"numberOfInstances": 0, "coordinationCommandLine": "x"}, {}, "InvalidPropertyValue",
     "multiInstanceSettings.numberOfInstances"),
    ({"numberOfInstances": 2}, {}, "MissingRequiredProperty", "multiInstanceSettings.coordinationCommandLine"),
    ({"numberOfInstances": 2, "coordinationCommandLine": "x"}, {"requiredSlots": 2}, "InvalidPropertyValue",
     "requiredSlots"),
])
def test_bad_settings_are_refused(batch, emulator, request, settings, extra, code, prop) -> None:
    pool_id = make_pool(emulator.client(), nodes=1, slots=2, enable_inter_node_communication=True)
    job_id = make_job(batch, pool_id)
    request.addfinalizer(lambda: _delete(batch, job_id, pool_id))
    with pytest.raises(HttpResponseError) as e:
        batch.create_task(job_id, {"id": "t", "commandLine": "x", "multiInstanceSettings": settings, **extra})
    assert e.value.error.code == code
    assert dict((d.code, d.message) for d in e.value.error.details)["PropertyName"] == prop


def test_terminating_it_ends_every_instance(process_batch, mpi_pool, tmp_path) -> None:
    job_id = make_job(process_batch, mpi_pool)
    marks = tmp_path / "marks"
    marks.mkdir()
    marks.chmod(0o777)
    # every coordination command leaves a background process behind, which must end with the task
    coordination = (f"/bin/sh -c 'sh -c \"echo \\$\\$ > {marks}/\\$AZ_BATCH_NODE_ID; exec sleep 30\" & "
                    f"[ \"$AZ_BATCH_IS_CURRENT_NODE_MASTER\" = true ] || sleep 30'")
    process_batch.create_task(job_id, _mi_task("long", 2, "/bin/sh -c 'sleep 30'", coordination))
    wait_for(lambda: {s.state for s in process_batch.list_subtasks(job_id, "long")} == {"running"}, timeout=20)
    process_batch.terminate_task(job_id, "long")
    task = wait_task(process_batch, job_id, "long", timeout=10)
    assert task.execution_info.result == "failure"
    [sub] = wait_for(lambda: [s for s in process_batch.list_subtasks(job_id, "long") if s.state == "completed"],
                     timeout=10)
    assert sub.result == "failure"
    # the nodes are free again: an ordinary task runs on them
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="after", command_line="/bin/sh -c true"))
    assert wait_task(process_batch, job_id, "after", timeout=20).execution_info.exit_code == 0
    pids = [int(p.read_text()) for p in marks.iterdir()]
    assert len(pids) == 2  # one background process per node, each ended with the task
    wait_for(lambda: not any(_alive(pid) for pid in pids), timeout=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
