"""Jobs through the real SDK: create/get/list/update, conditional updates, terminate/delete pollers,
task counts, onAllTasksComplete and onTaskFailure."""

from __future__ import annotations

import pytest
from azure.batch import models as m
from azure.batch.models._models import BatchJobTerminateOptions
from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

from bigcompute.local.testing import make_job, make_pool, unique, wait_for


@pytest.fixture
def pool(batch) -> str:
    return make_pool(batch, nodes=1, slots=2)


def test_create_get_and_job_exists(batch, pool) -> None:
    job_id = make_job(batch, pool, priority=5, metadata=[m.BatchMetadataItem(name="k", value="v")])
    job = batch.get_job(job_id)
    assert (job.id, job.state, job.priority, job.pool_info.pool_id) == (job_id, "active", 5, pool)
    assert job.all_tasks_complete_mode == "noaction" and job.uses_task_dependencies is False
    assert job.etag and job.last_modified and job.creation_time
    with pytest.raises(ResourceExistsError) as info:
        batch.create_job(m.BatchJobCreateOptions(id=job_id.upper(), pool_info=m.BatchPoolInfo(pool_id=pool)))
    assert info.value.error.code == "JobExists"


def test_missing_job_raises_not_found(batch) -> None:
    with pytest.raises(ResourceNotFoundError) as info:
        batch.get_job(unique("missing"))
    assert info.value.error.code == "JobNotFound"


def test_invalid_id_is_invalid_property(batch, pool) -> None:
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as info:
        batch.create_job(m.BatchJobCreateOptions(id="bad id!", pool_info=m.BatchPoolInfo(pool_id=pool)))
    assert info.value.status_code == 400 and info.value.error.code == "InvalidPropertyValue"


def test_list_jobs_with_filter_select_and_paging(batch, pool) -> None:
    ids = {make_job(batch, pool) for _ in range(3)}
    listed = list(batch.list_jobs(max_results=1, filter=f"executionInfo/poolId eq '{pool}'", select=["id", "state"]))
    assert {j.id for j in listed} == ids
    assert all(j.priority is None for j in listed)  # $select trims the rest


def test_update_with_etag(batch, pool) -> None:
    job_id = make_job(batch, pool)
    etag = batch.get_job(job_id).etag
    batch.update_job(job_id, m.BatchJobUpdateOptions(priority=7), etag=etag,
                     match_condition=MatchConditions.IfNotModified)
    assert batch.get_job(job_id).priority == 7
    with pytest.raises(ResourceModifiedError):
        batch.update_job(job_id, m.BatchJobUpdateOptions(priority=8), etag=etag,
                         match_condition=MatchConditions.IfNotModified)


def test_terminate_and_delete_pollers_finish(batch, pool) -> None:
    job_id = make_job(batch, pool)
    batch.begin_terminate_job(job_id, BatchJobTerminateOptions(termination_reason="UserTerminate"),
                              polling_interval=0).result()
    job = batch.get_job(job_id)
    assert job.state == "completed" and job.execution_info.termination_reason == "UserTerminate"
    batch.begin_delete_job(job_id, polling_interval=0).result()
    with pytest.raises(ResourceNotFoundError):
        batch.get_job(job_id)


def test_terminatejob_after_tasks_complete(batch, pool) -> None:
    """The runner's flow: create with noaction, add tasks, then switch to terminatejob."""
    job_id = make_job(batch, pool)
    batch.create_tasks(job_id, [m.BatchTaskCreateOptions(id=f"t{i}", command_line="/bin/true") for i in range(5)])
    wait_for(lambda: batch.get_job_task_counts(job_id).task_counts.completed == 5)
    assert batch.get_job(job_id).state == "active"
    batch.update_job(job_id, m.BatchJobUpdateOptions(all_tasks_complete_mode="terminatejob"))
    job = wait_for(lambda: (j := batch.get_job(job_id)).state == "completed" and j)
    assert job.execution_info.termination_reason == "AllTasksComplete"
    with pytest.raises(ResourceExistsError) as info:
        batch.create_task(job_id, m.BatchTaskCreateOptions(id="late", command_line="/bin/true"))
    assert info.value.error.code == "JobCompleted"


def test_task_counts_with_slots(batch, pool) -> None:
    job_id = make_job(batch, pool)
    batch.create_task(job_id, m.BatchTaskCreateOptions(id="ok", command_line="/bin/true", required_slots=2))
    batch.create_task(job_id, m.BatchTaskCreateOptions(id="bad", command_line="/bin/sh -c 'exit 3'"))
    counts = wait_for(lambda: (c := batch.get_job_task_counts(job_id)).task_counts.completed == 2 and c)
    assert (counts.task_counts.succeeded, counts.task_counts.failed) == (1, 1)
    assert (counts.task_slot_counts.succeeded, counts.task_slot_counts.failed) == (2, 1)


def test_task_failure_terminates_job_when_asked(batch, pool) -> None:
    job_id = make_job(batch, pool, task_failure_mode="performexitoptionsjobaction")
    batch.create_task(job_id, m.BatchTaskCreateOptions(id="bad", command_line="exit 2"))
    job = wait_for(lambda: (j := batch.get_job(job_id)).state == "completed" and j)
    assert job.execution_info.termination_reason == "TaskFailed"


def test_exit_condition_job_action_needs_performexitoptions(batch, pool) -> None:
    from azure.core.exceptions import HttpResponseError

    job_id = make_job(batch, pool)
    exits = m.ExitConditions(default=m.ExitOptions(job_action="terminate"))
    with pytest.raises(HttpResponseError) as info:
        batch.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="exit 1", exit_conditions=exits))
    assert info.value.status_code == 400 and info.value.error.code == "InvalidPropertyValue"


def test_exit_code_none_action_keeps_job_active(batch, pool) -> None:
    job_id = make_job(batch, pool, task_failure_mode="performexitoptionsjobaction")
    exits = m.ExitConditions(exit_codes=[m.ExitCodeMapping(code=4, exit_options=m.ExitOptions(job_action="none"))])
    batch.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="exit 4", exit_conditions=exits))
    wait_for(lambda: batch.get_task(job_id, "t").state == "completed")
    assert batch.get_job(job_id).state == "active"


def test_job_wall_clock_expiry(batch, pool) -> None:
    from datetime import timedelta

    job_id = make_job(batch, pool, constraints=m.BatchJobConstraints(max_wall_clock_time=timedelta(seconds=0.3)))
    job = wait_for(lambda: (j := batch.get_job(job_id)).state == "completed" and j, timeout=5)
    assert job.execution_info.termination_reason == "MaxWallClockTimeExpiry"


def test_disable_and_enable(batch, pool) -> None:
    job_id = make_job(batch, pool)
    batch.begin_disable_job(job_id, m.BatchJobDisableOptions(disable_tasks="requeue"), polling_interval=0).result()
    assert batch.get_job(job_id).state == "disabled"
    batch.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/bin/true"))
    assert batch.get_task(job_id, "t").state == "active"
    batch.begin_enable_job(job_id, polling_interval=0).result()
    wait_for(lambda: batch.get_task(job_id, "t").state == "completed")

