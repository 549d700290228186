"""Real processes: node layout, AZ_BATCH_* environment, task files, wall-clock kill of the whole process
group, job preparation and release tasks, start tasks."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from azure.batch import models as m
from azure.batch.models._models import BatchJobTerminateOptions
from azure.core.exceptions import ResourceNotFoundError

from bigcompute.local.testing import make_job, make_pool, wait_for, wait_task


@pytest.fixture(scope="module")
def pool(process_emulator) -> str:
    return make_pool(process_emulator.client(), nodes=1, slots=4)


def _sh(task_id: str, script: str, **kw) -> m.BatchTaskCreateOptions:
    return m.BatchTaskCreateOptions(id=task_id, command_line=f"/bin/sh -c '{script}'", **kw)


def test_env_layout_and_files(process_emulator, process_batch, pool) -> None:
    job_id = make_job(process_batch, pool, common_environment_settings=[m.EnvironmentSetting(name="COMMON", value="c")])
    process_batch.create_task(job_id, _sh("t1", "env; echo out > result.txt; mkdir -p sub; echo x > sub/y.txt; echo err >&2",
                                          environment_settings=[m.EnvironmentSetting(name="MINE", value="m")]))
    task = wait_task(process_batch, job_id, "t1")
    assert task.execution_info.exit_code == 0
    env = dict(line.split("=", 1) for line in b"".join(process_batch.download_task_file(job_id, "t1", "stdout.txt"))
               .decode().splitlines() if "=" in line)
    root = env["AZ_BATCH_NODE_ROOT_DIR"]
    assert env["AZ_BATCH_TASK_DIR"] == f"{root}/workitems/{job_id}/job-1/t1"
    assert env["AZ_BATCH_TASK_WORKING_DIR"] == env["AZ_BATCH_TASK_DIR"] + "/wd"
    assert (env["AZ_BATCH_JOB_ID"], env["AZ_BATCH_TASK_ID"], env["AZ_BATCH_POOL_ID"]) == (job_id, "t1", pool)
    assert (env["COMMON"], env["MINE"], env["AZ_BATCH_ACCOUNT_NAME"]) == ("c", "m", process_emulator.account)
    for sub in ("shared", "startup", "applications", "fsmounts", "workitems"):
        assert os.path.isdir(os.path.join(root, sub))
    assert process_emulator.key not in "\n".join(f"{k}={v}" for k, v in env.items())
    assert b"".join(process_batch.download_task_file(job_id, "t1", "stderr.txt")) == b"err\n"
    assert b"".join(process_batch.download_task_file(job_id, "t1", "wd/sub/y.txt")) == b"x\n"
    assert b"".join(process_batch.download_task_file(job_id, "t1", "wd/result.txt", ocp_range="bytes=0-1")) == b"ou"
    props = process_batch.get_task_file_properties(job_id, "t1", "wd/result.txt")
    assert props.content_length == 4 and props.is_directory is False
    names = {f.name for f in process_batch.list_task_files(job_id, "t1", recursive=True)}
    assert {"stdout.txt", "stderr.txt", "wd", "wd/result.txt", "wd/sub/y.txt"} <= names
    with pytest.raises(ResourceNotFoundError):
        process_batch.get_task_file_properties(job_id, "t1", "wd/missing.txt")


def test_command_line_is_not_run_under_a_shell(process_batch, pool) -> None:
    job_id = make_job(process_batch, pool)
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/bin/echo $AZ_BATCH_TASK_ID"))
    wait_task(process_batch, job_id, "t")
    assert b"".join(process_batch.download_task_file(job_id, "t", "stdout.txt")) == b"$AZ_BATCH_TASK_ID\n"


def test_real_exit_codes_are_retried(process_batch, pool) -> None:
    job_id = make_job(process_batch, pool)
    # Fails on the first try only: the marker survives in the task directory between tries.
    process_batch.create_task(job_id, _sh("t", "test -f ../tried && exit 0; touch ../tried; exit 3",
                                          constraints=m.BatchTaskConstraints(max_task_retry_count=1)))
    info = wait_task(process_batch, job_id, "t").execution_info
    assert (info.exit_code, info.retry_count, info.result) == (0, 1, "success")


def test_missing_program_is_a_failure_not_a_crash(process_batch, pool) -> None:
    job_id = make_job(process_batch, pool)
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/no/such/program"))
    info = wait_task(process_batch, job_id, "t").execution_info
    assert info.result == "failure" and info.failure_info.code == "CommandProgramNotFound"


def test_wall_clock_kills_the_process_group(process_batch, pool, tmp_path) -> None:
    job_id = make_job(process_batch, pool)
    pidfile = tmp_path / "child.pid"
    process_batch.create_task(job_id, _sh("t", f"sleep 30 & echo $! > {pidfile}; wait",
                                          constraints=m.BatchTaskConstraints(max_wall_clock_time=timedelta(seconds=0.5))))
    started = time.monotonic()
    info = wait_task(process_batch, job_id, "t").execution_info
    assert time.monotonic() - started < 5
    assert info.result == "failure" and info.failure_info.code == "TaskEnded"
    wait_for(lambda: gone(int(pidfile.read_text())))


def gone(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_terminate_kills_a_running_task(process_batch, pool, tmp_path) -> None:
    job_id = make_job(process_batch, pool)
    pidfile = tmp_path / "task.pid"
    process_batch.create_task(job_id, _sh("t", f"echo $$ > {pidfile}; exec sleep 30"))  # exec: same pid
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip())
    pid = int(pidfile.read_text())
    assert not gone(pid)
    process_batch.terminate_task(job_id, "t")
    info = process_batch.get_task(job_id, "t").execution_info
    assert info.failure_info.code == "TaskEnded" and info.result == "failure"
    wait_for(lambda: gone(pid))  # the process itself was ended, not only the task's record


def test_job_preparation_runs_once_per_node_then_release(process_batch, pool) -> None:
    log = f"$AZ_BATCH_NODE_SHARED_DIR/prep-{time.monotonic_ns()}.log"  # the node outlives this test's job
    prep = m.BatchJobPreparationTask(command_line=f"/bin/sh -c 'echo prepared | tee -a {log}'")
    release = m.BatchJobReleaseTask(command_line=f"/bin/sh -c 'echo released >> {log}'")
    job_id = make_job(process_batch, pool, job_preparation_task=prep, job_release_task=release)
    process_batch.create_tasks(job_id, [_sh(f"t{i}", f"cat {log} $AZ_BATCH_JOB_PREP_DIR/stdout.txt; "
                                                     "echo $AZ_BATCH_JOB_PREP_WORKING_DIR") for i in range(3)])
    wait_for(lambda: process_batch.get_job_task_counts(job_id).task_counts.succeeded == 3)
    states = list(process_batch.list_job_preparation_and_release_task_status(job_id))
    assert len(states) == 1 and states[0].job_preparation_task_execution_info.exit_code == 0
    node_id = process_batch.get_task(job_id, "t0").node_info.node_id
    for i in range(3):  # each task saw what preparation wrote, written once: it ran once, before them all
        out = b"".join(process_batch.download_task_file(job_id, f"t{i}", "stdout.txt")).decode()
        assert out.splitlines()[:2] == ["prepared", "prepared"]  # the shared log, then preparation's stdout
        assert out.splitlines()[2].endswith("/jobpreparation/wd") and len(out.splitlines()) == 3, out
    process_batch.begin_terminate_job(job_id, BatchJobTerminateOptions(termination_reason="done"),
                                      polling_interval=0).result()
    status = list(process_batch.list_job_preparation_and_release_task_status(job_id))[0]
    assert status.job_release_task_execution_info.exit_code == 0
    # The release ran on the same node after the tasks: a later job's task there reads the log.
    later = make_job(process_batch, pool)
    process_batch.create_task(later, _sh("read", f"cat {log}"))
    task = wait_task(process_batch, later, "read")
    assert task.node_info.node_id == node_id
    assert b"".join(process_batch.download_task_file(later, "read", "stdout.txt")) == b"prepared\nreleased\n"


def test_failed_preparation_keeps_tasks_off_the_node(process_batch, pool) -> None:
    prep = m.BatchJobPreparationTask(command_line="/bin/sh -c 'exit 1'", wait_for_success=True)
    job_id = make_job(process_batch, pool, job_preparation_task=prep)
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/bin/true"))
    wait_for(lambda: list(process_batch.list_job_preparation_and_release_task_status(job_id)))
    # A barrier, not a pause: another job's task on the same (only) node runs to completion, so the scheduler
    # has passed over this job's task after the preparation failed.
    other = make_job(process_batch, pool)
    process_batch.create_task(other, m.BatchTaskCreateOptions(id="after", command_line="/bin/true"))
    assert wait_task(process_batch, other, "after").execution_info.exit_code == 0
    task = process_batch.get_task(job_id, "t")
    assert task.state == "active"


def test_start_task_gates_the_node(process_batch) -> None:
    start = m.BatchStartTask(command_line="/bin/sh -c 'echo booted > $AZ_BATCH_NODE_SHARED_DIR/boot'",
                             wait_for_success=True)
    pool_id = make_pool(process_batch, nodes=1, start_task=start)
    node = wait_for(lambda: (n := list(process_batch.list_nodes(pool_id))[0]).state == "idle" and n)
    assert node.start_task_info.exit_code == 0
    job_id = make_job(process_batch, pool_id)
    process_batch.create_task(job_id, _sh("t", "cat $AZ_BATCH_NODE_SHARED_DIR/boot"))
    wait_task(process_batch, job_id, "t")
    assert b"".join(process_batch.download_task_file(job_id, "t", "stdout.txt")) == b"booted\n"


# Batch: "maxTaskRetryCount ... tries = 1 + N" (/work/shared/reference/batch-rest.md, Task retries); a job release
# task has no retry setting, so it runs once. Each failing command appends a line per attempt.
def _failing(log: Path) -> str:
    return f"/bin/sh -c 'echo try >> {log}; exit 3'"


def _tries(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.mark.parametrize("retries", [0, 2])
def test_start_task_is_tried_retry_count_plus_one_times(process_batch, tmp_path, retries) -> None:
    log = tmp_path / "start.log"
    start = m.BatchStartTask(command_line=_failing(log), wait_for_success=True, max_task_retry_count=retries)
    pool_id = make_pool(process_batch, nodes=1, start_task=start)
    node = wait_for(lambda: (n := list(process_batch.list_nodes(pool_id))[0]).start_task_info
                    and n.start_task_info.state == "completed" and n)
    assert _tries(log) == retries + 1
    assert node.start_task_info.retry_count == retries and node.start_task_info.exit_code == 3


@pytest.mark.parametrize("retries", [0, 2])
def test_preparation_task_is_tried_retry_count_plus_one_times(process_batch, pool, tmp_path, retries) -> None:
    log = tmp_path / "prep.log"
    prep = m.BatchJobPreparationTask(command_line=_failing(log), wait_for_success=True,
                                     constraints=m.BatchTaskConstraints(max_task_retry_count=retries))
    job_id = make_job(process_batch, pool, job_preparation_task=prep)
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/bin/true"))
    status = wait_for(lambda: list(process_batch.list_job_preparation_and_release_task_status(job_id)))
    info = status[0].job_preparation_task_execution_info
    assert _tries(log) == retries + 1
    assert info.retry_count == retries and info.exit_code == 3 and info.result == "failure"


def test_release_task_is_tried_once(process_batch, pool, tmp_path) -> None:
    log = tmp_path / "release.log"
    prep = m.BatchJobPreparationTask(command_line="/bin/true")
    release = m.BatchJobReleaseTask(command_line=_failing(log))
    job_id = make_job(process_batch, pool, job_preparation_task=prep, job_release_task=release)
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/bin/true"))
    wait_task(process_batch, job_id, "t")
    process_batch.begin_terminate_job(job_id, BatchJobTerminateOptions(termination_reason="done"),
                                      polling_interval=0).result()
    info = wait_for(lambda: list(process_batch.list_job_preparation_and_release_task_status(job_id))[0]
                    .job_release_task_execution_info)
    assert _tries(log) == 1 and info.exit_code == 3


def test_a_higher_priority_jobs_tasks_run_first(process_batch, tmp_path) -> None:
    """One slot, busy until the test opens a gate; meanwhile a low-priority job (created first) and a high-priority
    one queue three tasks each. Once the slot frees, every task of the high-priority job starts before any of the
    low-priority one's, although the low one came first."""
    one_slot = make_pool(process_batch, nodes=1, slots=1)
    gate = tmp_path / "gate"
    blocker = make_job(process_batch, one_slot)
    process_batch.create_task(blocker, _sh("hold", f"while [ ! -e {gate} ]; do sleep 0.05; done"))
    wait_for(lambda: process_batch.get_task(blocker, "hold").state == "running")
    low = make_job(process_batch, one_slot, priority=-100)
    high = make_job(process_batch, one_slot, priority=500)
    for job in (low, high):
        process_batch.create_tasks(job, [m.BatchTaskCreateOptions(id=f"t{i}", command_line="/bin/true")
                                         for i in range(3)])
    gate.touch()
    for job in (low, high):
        wait_for(lambda job=job: process_batch.get_job_task_counts(job).task_counts.succeeded == 3)
    started = sorted((process_batch.get_task(job, f"t{i}").execution_info.start_time, name)
                     for job, name in ((low, "low"), (high, "high")) for i in range(3))
    assert [name for _, name in started] == ["high"] * 3 + ["low"] * 3
