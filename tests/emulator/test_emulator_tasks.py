"""Tasks through the real SDK with instant execution: add, collections, lists, retries, dependencies,
terminate/reactivate, and what cannot run locally."""

from __future__ import annotations

import pytest
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from bigcompute.local.testing import make_job, make_pool, wait_for, wait_task


@pytest.fixture(scope="module")
def pool(emulator) -> str:
    return make_pool(emulator.client(), nodes=2, slots=2)


def _task(task_id: str, cmd: str = "/bin/true", **kw) -> m.BatchTaskCreateOptions:
    return m.BatchTaskCreateOptions(id=task_id, command_line=cmd, **kw)


def test_add_get_and_task_exists(batch, pool) -> None:
    job_id = make_job(batch, pool)
    batch.create_task(job_id, _task("t1", display_name="first"))
    task = wait_task(batch, job_id, "t1")
    info = task.execution_info
    assert (task.display_name, info.exit_code, info.result, info.retry_count, info.requeue_count) == (
        "first", 0, "success", 0, 0)
    assert info.start_time <= info.end_time and task.node_info.pool_id == pool
    assert task.previous_state == "running"
    with pytest.raises(ResourceExistsError) as err:
        batch.create_task(job_id, _task("T1"))
    assert err.value.error.code == "TaskExists"
    with pytest.raises(ResourceNotFoundError) as err:
        batch.get_task(job_id, "nope")
    assert err.value.error.code == "TaskNotFound"


def test_collection_reports_per_task_results(batch, pool) -> None:
    job_id = make_job(batch, pool)
    batch.create_task(job_id, _task("dup"))
    group = m.BatchTaskGroup(task_values=[_task("dup"), _task("new"), _task("bad id")])
    result = batch.create_task_collection(job_id, group)
    by_id = {r.task_id: r for r in result.result_values}
    assert by_id["new"].status == "success" and by_id["new"].etag
    assert by_id["dup"].status == "clienterror" and by_id["dup"].error.code == "TaskExists"
    assert by_id["bad id"].error.code == "InvalidPropertyValue"


def test_create_tasks_helper_chunks_and_accepts_rerun(batch, pool) -> None:
    job_id = make_job(batch, pool)
    tasks = [_task(f"k{i}") for i in range(250)]
    assert len(batch.create_tasks(job_id, tasks).result_values) == 250
    # A rerun gets TaskExists for every task, which the helper counts as success.
    assert len(batch.create_tasks(job_id, tasks, max_concurrency=2).result_values) == 250
    wait_for(lambda: batch.get_job_task_counts(job_id).task_counts.completed == 250)


def test_oversized_collection_is_split_by_the_sdk(batch, pool, emulator) -> None:
    job_id = make_job(batch, pool)
    big = "x" * 20_000  # 100 of these exceed 1 MB: RequestBodyTooLarge makes the helper halve the chunk
    tasks = [_task(f"b{i}", f"/bin/echo {big}") for i in range(100)]
    assert len(batch.create_tasks(job_id, tasks).result_values) == 100
    with pytest.raises(HttpResponseError) as err:
        batch.create_task_collection(job_id, m.BatchTaskGroup(task_values=tasks))
    assert err.value.status_code == 413 and err.value.error.code == "RequestBodyTooLarge"


def test_list_with_filter_select_and_next_link(batch, pool) -> None:
    job_id = make_job(batch, pool)
    batch.create_tasks(job_id, [_task(f"a{i}", "exit 1" if i % 3 == 0 else "/bin/true") for i in range(30)])
    wait_for(lambda: batch.get_job_task_counts(job_id).task_counts.completed == 30, timeout=60)  # 30 real processes: slow under load
    failed = list(batch.list_tasks(job_id, max_results=4, select=["id", "executionInfo"],
                                   filter="state eq 'completed' and executionInfo/exitCode ne 0"))
    assert sorted(t.id for t in failed) == sorted(f"a{i}" for i in range(0, 30, 3))
    assert all(t.command_line is None and t.execution_info.exit_code == 1 for t in failed)
    assert len(list(batch.list_tasks(job_id, max_results=7))) == 30
    with pytest.raises(HttpResponseError) as err:
        list(batch.list_tasks(job_id, filter="state eq"))
    assert err.value.error.code == "InvalidQueryParameterValue"


def test_retries_only_nonzero_exit_codes(batch, pool) -> None:
    job_id = make_job(batch, pool, constraints=m.BatchJobConstraints(max_task_retry_count=2))
    batch.create_task(job_id, _task("fails", "exit 5"))
    batch.create_task(job_id, _task("once", "exit 5", constraints=m.BatchTaskConstraints(max_task_retry_count=0)))
    batch.create_task(job_id, _task("ok"))
    fails = wait_task(batch, job_id, "fails").execution_info
    assert (fails.retry_count, fails.exit_code, fails.result) == (2, 5, "failure")
    assert fails.failure_info.code == "FailureExitCode" and fails.last_retry_time
    assert wait_task(batch, job_id, "once").execution_info.retry_count == 0
    assert wait_task(batch, job_id, "ok").execution_info.retry_count == 0


def test_dependencies_need_the_job_flag(batch, pool) -> None:
    job_id = make_job(batch, pool)
    with pytest.raises(HttpResponseError) as err:
        batch.create_task(job_id, _task("child", depends_on=m.BatchTaskDependencies(task_ids=["parent"])))
    assert err.value.error.code == "TaskDependenciesNotSpecifiedOnJob"


def test_dependencies_ids_and_ranges(batch, pool) -> None:
    job_id = make_job(batch, pool, uses_task_dependencies=True)
    batch.create_task(job_id, _task("after", depends_on=m.BatchTaskDependencies(
        task_ids=["setup"], task_id_ranges=[m.BatchTaskIdRange(start=1, end=3)])))
    batch.create_task(job_id, _task("blocked", depends_on=m.BatchTaskDependencies(task_ids=["broken"])))
    batch.create_task(job_id, _task("satisfied", depends_on=m.BatchTaskDependencies(task_ids=["tolerated"])))
    batch.create_tasks(job_id, [_task("1"), _task("2")])
    batch.create_task(job_id, _task("setup"))
    batch.create_task(job_id, _task("broken", "exit 1"))
    batch.create_task(job_id, _task("tolerated", "exit 9", exit_conditions=m.ExitConditions(
        exit_codes=[m.ExitCodeMapping(code=9, exit_options=m.ExitOptions(dependency_action="satisfy"))])))
    wait_task(batch, job_id, "setup")
    wait_task(batch, job_id, "broken")
    wait_task(batch, job_id, "satisfied")
    assert batch.get_task(job_id, "after").state == "active"  # task 3 of the range is missing
    batch.create_task(job_id, _task("3"))
    done = wait_task(batch, job_id, "after")
    assert done.execution_info.start_time >= batch.get_task(job_id, "3").execution_info.end_time
    assert batch.get_task(job_id, "blocked").state == "active"


def test_terminate_delete_and_reactivate(batch, pool) -> None:
    job_id = make_job(batch, pool)
    batch.begin_disable_job(job_id, m.BatchJobDisableOptions(disable_tasks="wait"), polling_interval=0).result()
    batch.create_task(job_id, _task("t"))
    batch.terminate_task(job_id, "t")
    task = batch.get_task(job_id, "t")
    assert task.state == "completed" and task.execution_info.failure_info.code == "TaskEnded"
    assert task.execution_info.result == "failure"
    batch.reactivate_task(job_id, "t")
    assert batch.get_task(job_id, "t").state == "active"
    batch.begin_enable_job(job_id, polling_interval=0).result()
    assert wait_task(batch, job_id, "t").execution_info.result == "success"
    with pytest.raises(ResourceExistsError):
        batch.reactivate_task(job_id, "t")
    batch.delete_task(job_id, "t")
    with pytest.raises(ResourceNotFoundError):
        batch.get_task(job_id, "t")


def test_replace_task_constraints(batch, pool) -> None:
    from datetime import timedelta

    job_id = make_job(batch, pool)
    batch.begin_disable_job(job_id, m.BatchJobDisableOptions(disable_tasks="wait"), polling_interval=0).result()
    batch.create_task(job_id, _task("t"))
    task = batch.get_task(job_id, "t")
    task.constraints = m.BatchTaskConstraints(max_task_retry_count=4, retention_time=timedelta(hours=1))
    batch.replace_task(job_id, "t", task)
    assert batch.get_task(job_id, "t").constraints.max_task_retry_count == 4


@pytest.mark.parametrize("extra, prop", [
    ({"user_identity": m.UserIdentity(username="someone")}, "userIdentity.username"),
])
def test_what_cannot_run_locally_is_refused(batch, pool, extra, prop) -> None:
    job_id = make_job(batch, pool)
    with pytest.raises(HttpResponseError) as err:
        batch.create_task(job_id, _task("t", **extra))
    assert err.value.status_code == 400 and err.value.error.code == "UnsupportedProperty"
    assert {d.code: d.message for d in err.value.error.details}["PropertyName"] == prop
    assert "local Batch emulator" in err.value.error.message


def test_max_parallel_tasks_runs_one_at_a_time(batch, pool, emulator) -> None:  # priority: test_emulator_process
    job_id = make_job(batch, pool, max_parallel_tasks=1)
    batch.create_tasks(job_id, [_task(f"s{i}") for i in range(5)])
    wait_for(lambda: batch.get_job_task_counts(job_id).task_counts.completed == 5)
    starts = sorted((batch.get_task(job_id, f"s{i}").execution_info.start_time, i) for i in range(5))
    ends = {i: batch.get_task(job_id, f"s{i}").execution_info.end_time for i in range(5)}
    for (_, prev), (start, _) in zip(starts, starts[1:], strict=False):
        assert start >= ends[prev]  # one at a time


@pytest.mark.parametrize(("command", "code"), [
    ("/bin/sh -c 'echo working; exit 3'", 3),  # reached unconditionally: the task's exit code
    ("cmd /c exit 4", 4),
    ("/bin/sh -c '[ -e in.txt ] || { echo missing >&2; exit 1; }; echo done'", 0),  # a guard, not the outcome
    ("/bin/bash -c 'if [ -e refusal ]; then cat refusal >&2; exit 1; fi; python run.py'", 0),
    ("/bin/sh -c 'test -f marker && exit 5; touch marker'", 0),
])
def test_instant_tasks_exit_with_the_exit_they_certainly_reach(batch, pool, command, code) -> None:
    job_id = make_job(batch, pool)
    batch.create_task(job_id, _task("t", command))
    info = wait_task(batch, job_id, "t").execution_info
    assert (info.exit_code, info.result) == (code, "success" if code == 0 else "failure")
