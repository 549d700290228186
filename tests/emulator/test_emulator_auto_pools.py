"""Auto pools through the real BatchClient: a job's or a job schedule's `poolInfo.autoPoolSpecification` creates a
pool with a generated id (`<autoPoolIdPrefix>_<GUID>`) that executionInfo.poolId names and the job's tasks run on;
Batch deletes it when its lifetime (the job, or the schedule) ends, unless keepAlive."""

from __future__ import annotations

import datetime as dt

import pytest
from azure.batch import models as m
from azure.batch.models._models import BatchJobTerminateOptions  # not exported in 15.1 (see runner/prune)
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from bigcompute.local.testing import LOCAL_VM, unique, wait_for, wait_task

_TERMINATE = BatchJobTerminateOptions(termination_reason="done")


def _auto(lifetime: str = "job", keep_alive: bool = False, nodes: int = 1, **pool: object) -> m.BatchPoolInfo:
    spec = m.BatchPoolSpecification(vm_size="standard_d2s_v3", target_dedicated_nodes=nodes,
                                    **({"virtual_machine_configuration": LOCAL_VM} | pool))  # type: ignore[arg-type]
    return m.BatchPoolInfo(auto_pool_specification=m.BatchAutoPoolSpecification(
        auto_pool_id_prefix="auto", pool_lifetime_option=lifetime, keep_alive=keep_alive, pool=spec))


def _gone(batch, pool_id: str) -> bool:
    try:
        batch.get_pool(pool_id)
    except ResourceNotFoundError:
        return True
    return False


def _job_with_auto_pool(batch, **kwargs: object) -> tuple[str, str]:
    job_id = unique("job")
    batch.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=_auto(**kwargs)))  # type: ignore[arg-type]
    return job_id, batch.get_job(job_id).execution_info.pool_id


def test_a_jobs_auto_pool_runs_its_tasks_and_goes_when_the_job_completes(batch) -> None:
    job_id, pool_id = _job_with_auto_pool(batch)
    job = batch.get_job(job_id)
    assert pool_id.startswith("auto_") and len(pool_id) == len("auto_") + 36
    assert job.pool_info.pool_id is None and job.pool_info.auto_pool_specification.pool_lifetime_option == "job"
    pool = batch.get_pool(pool_id)
    assert (pool.vm_size, pool.target_dedicated_nodes) == ("standard_d2s_v3", 1)
    batch.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/bin/sh -c 'exit 0'"))
    task = wait_task(batch, job_id, "t")
    assert (task.execution_info.result, task.node_info.pool_id) == ("success", pool_id)
    batch.begin_terminate_job(job_id, _TERMINATE, polling_interval=0).result()
    wait_for(lambda: batch.get_job(job_id).state == "completed")
    wait_for(lambda: _gone(batch, pool_id))


def test_keep_alive_keeps_the_pool_and_deleting_the_job_deletes_one_without(batch) -> None:
    kept_job, kept_pool = _job_with_auto_pool(batch, keep_alive=True, nodes=0)
    batch.begin_terminate_job(kept_job, _TERMINATE, polling_interval=0).result()
    wait_for(lambda: batch.get_job(kept_job).state == "completed")
    deleted_job, deleted_pool = _job_with_auto_pool(batch, nodes=0)
    batch.begin_delete_job(deleted_job, polling_interval=0).result()
    wait_for(lambda: _gone(batch, deleted_pool))
    assert batch.get_pool(kept_pool).state == "active"  # "It is up to the user to delete auto Pools" (keepAlive)
    batch.begin_delete_pool(kept_pool, polling_interval=0)


@pytest.mark.parametrize(("pool_info", "prop"), [
    (_auto(lifetime="jobschedule"), "poolInfo.autoPoolSpecification.poolLifetimeOption"),
    (m.BatchPoolInfo(pool_id="p", auto_pool_specification=_auto().auto_pool_specification), "poolInfo"),
], ids=["schedule-lifetime-on-a-job", "pool-id-and-auto-pool"])
def test_what_batch_refuses_in_a_jobs_pool_info(batch, pool_info, prop) -> None:
    with pytest.raises(HttpResponseError) as info:
        batch.create_job(m.BatchJobCreateOptions(id=unique("job"), pool_info=pool_info))
    assert (info.value.status_code, info.value.error.code) == (400, "InvalidPropertyValue")
    assert {"key": "PropertyName", "value": prop} in info.value.response.json()["values"]


def test_an_auto_pool_that_cannot_be_created_completes_the_job_with_a_scheduling_error(batch) -> None:
    """"If auto Pool creation fails, the Batch service moves the Job to a completed state, and the Pool creation
    error is set in the Job's scheduling error property" (BatchPoolInfo.autoPoolSpecification)."""
    job_id, pool_id = _job_with_auto_pool(batch, virtual_machine_configuration=None)
    job = batch.get_job(job_id)
    assert pool_id is None and job.state == "completed"
    assert job.execution_info.scheduling_error.code == "MissingRequiredProperty"


def _schedule(batch, lifetime: str) -> str:
    schedule_id = unique("sched")
    batch.create_job_schedule(m.BatchJobScheduleCreateOptions(
        id=schedule_id, schedule=m.BatchJobScheduleConfiguration(recurrence_interval=dt.timedelta(minutes=1)),
        job_specification=m.BatchJobSpecification(pool_info=_auto(lifetime=lifetime, nodes=0),
                                                  all_tasks_complete_mode="terminatejob")))
    return schedule_id


def _pools_of_jobs(batch, schedule_id: str, count: int) -> list[str]:
    """The pools of the schedule's first `count` jobs, once that many have completed."""
    def done() -> list[m.BatchJob]:
        jobs = [j for j in batch.list_jobs_from_schedule(schedule_id) if j.state == "completed"]
        return jobs if len(jobs) >= count else []
    return [j.execution_info.pool_id for j in sorted(wait_for(done), key=lambda j: j.creation_time)][:count]


def test_a_schedules_jobs_share_its_auto_pool_until_the_schedule_ends(batch) -> None:
    schedule_id = _schedule(batch, "jobschedule")
    pools = _pools_of_jobs(batch, schedule_id, 2)  # the schedule's interval is a minute of the 600x clock
    assert pools[0] == pools[1] and pools[0].startswith("auto_")
    assert batch.get_pool(pools[0]).state == "active"  # its jobs completed; the schedule has not
    batch.begin_terminate_job_schedule(schedule_id, polling_interval=0).result()
    wait_for(lambda: batch.get_job_schedule(schedule_id).state == "completed")
    wait_for(lambda: _gone(batch, pools[0]))


def test_a_schedules_job_lifetime_gives_each_job_its_own_pool(batch) -> None:
    schedule_id = _schedule(batch, "job")
    pools = _pools_of_jobs(batch, schedule_id, 2)
    assert pools[0] != pools[1]
    wait_for(lambda: _gone(batch, pools[0]) and _gone(batch, pools[1]))
    batch.begin_terminate_job_schedule(schedule_id, polling_interval=0).result()


def test_an_update_may_change_only_keep_alive_of_a_jobs_auto_pool(batch) -> None:
    """"only the keepAlive property of the autoPoolSpecification can be updated, and then only if the
    autoPoolSpecification has a poolLifetimeOption of Job" (BatchJobUpdateOptions.poolInfo)."""
    job_id, pool_id = _job_with_auto_pool(batch, nodes=0)
    with pytest.raises(HttpResponseError) as info:
        batch.update_job(job_id, m.BatchJobUpdateOptions(pool_info=_auto(nodes=2)))
    assert (info.value.status_code, info.value.error.code) == (400, "InvalidPropertyValue")
    batch.update_job(job_id, m.BatchJobUpdateOptions(pool_info=_auto(nodes=0, keep_alive=True)))
    assert batch.get_job(job_id).pool_info.auto_pool_specification.keep_alive is True
    batch.begin_terminate_job(job_id, _TERMINATE, polling_interval=0).result()
    wait_for(lambda: batch.get_job(job_id).state == "completed")
    assert batch.get_pool(pool_id).state == "active"  # kept: the update's keepAlive holds
    batch.begin_delete_pool(pool_id, polling_interval=0)
