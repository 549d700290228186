"""Job schedules through the real SDK: add/get/list/exists/update/replace, disable/enable/terminate/delete with
Batch's states and codes, and recurrence on the emulator's clock (the `emulator` fixture runs 600x faster:
a one-minute interval is 0.1 s)."""

from __future__ import annotations

import datetime as dt

import pytest
from azure.batch import models as m
from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)

from bigcompute.local.testing import make_job, make_pool, unique, wait_for
from tests.conftest import Held, delete_new


@pytest.fixture
def pool(batch) -> str:
    return make_pool(batch, nodes=1, slots=2)


def spec(pool: str, **kwargs) -> m.BatchJobSpecification:
    """Jobs that complete as soon as they have no task left (an empty job: at once)."""
    kwargs.setdefault("all_tasks_complete_mode", "terminatejob")
    return m.BatchJobSpecification(pool_info=m.BatchPoolInfo(pool_id=pool), **kwargs)


def add(batch, pool: str, schedule: m.BatchJobScheduleConfiguration, **kwargs) -> str:
    schedule_id = unique("sched")
    batch.create_job_schedule(m.BatchJobScheduleCreateOptions(
        id=schedule_id, schedule=schedule, job_specification=kwargs.pop("job_specification", None) or spec(pool),
        **kwargs))
    return schedule_id


def later(minutes: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)


def job_ids(batch, schedule_id: str) -> list[str]:
    return sorted((j.id for j in batch.list_jobs_from_schedule(schedule_id)), key=lambda i: int(i.rsplit("-", 1)[1]))


def test_add_get_exists_and_duplicate(batch, pool) -> None:
    schedule_id = add(batch, pool, m.BatchJobScheduleConfiguration(do_not_run_until=later(60 * 24)),
                      display_name="nightly", metadata=[m.BatchMetadataItem(name="k", value="v")])
    got = batch.get_job_schedule(schedule_id)
    assert (got.id, got.state, got.display_name, got.metadata[0].value) == (schedule_id, "active", "nightly", "v")
    assert got.job_specification.pool_info.pool_id == pool
    assert got.execution_info.next_run_time == got.schedule.do_not_run_until  # not before doNotRunUntil
    assert got.execution_info.recent_job is None and got.etag and got.creation_time
    assert batch.job_schedule_exists(schedule_id) is True
    with pytest.raises(ResourceExistsError) as info:
        add_again = m.BatchJobScheduleCreateOptions(id=schedule_id.upper(), schedule=m.BatchJobScheduleConfiguration(),
                                                    job_specification=spec(pool))
        batch.create_job_schedule(add_again)
    assert info.value.error.code == "JobScheduleExists"
    with pytest.raises(ResourceNotFoundError) as missing:
        batch.get_job_schedule(unique("nope"))
    assert missing.value.error.code == "JobScheduleNotFound"


@pytest.mark.parametrize("field", ["recurrence_interval", "start_window"])
def test_durations_under_one_minute_are_refused(batch, pool, field) -> None:
    with pytest.raises(HttpResponseError) as info:
        add(batch, pool, m.BatchJobScheduleConfiguration(**{field: dt.timedelta(seconds=59)}))
    assert info.value.status_code == 400 and info.value.error.code == "InvalidPropertyValue"
    assert {d.code: d.message for d in info.value.error.details}["PropertyName"].startswith("schedule.")


def test_list_with_filter_select_and_paging(batch, pool) -> None:
    far = m.BatchJobScheduleConfiguration(do_not_run_until=later(60 * 24))
    ids = {add(batch, pool, far) for _ in range(3)}
    disabled = add(batch, pool, far)
    batch.disable_job_schedule(disabled)
    listed = list(batch.list_job_schedules(max_results=1, filter="state eq 'active'", select=["id", "state"]))
    assert ids <= {s.id for s in listed} and disabled not in {s.id for s in listed}
    assert all(s.job_specification is None for s in listed)  # $select trims the rest
    with pytest.raises(HttpResponseError) as info:
        list(batch.list_job_schedules(filter="displayName eq 'x'"))
    assert info.value.error.code == "InvalidQueryParameterValue"


def test_update_and_replace(batch, pool) -> None:
    schedule_id = add(batch, pool, m.BatchJobScheduleConfiguration(do_not_run_until=later(60 * 24)),
                      metadata=[m.BatchMetadataItem(name="k", value="v")])
    etag = batch.get_job_schedule(schedule_id).etag
    batch.update_job_schedule(schedule_id, m.BatchJobScheduleUpdateOptions(
        job_specification=spec(pool, priority=9)), etag=etag, match_condition=MatchConditions.IfNotModified)
    got = batch.get_job_schedule(schedule_id)
    assert got.job_specification.priority == 9 and got.metadata[0].value == "v"  # PATCH keeps what it does not name
    with pytest.raises(ResourceModifiedError):
        batch.update_job_schedule(schedule_id, m.BatchJobScheduleUpdateOptions(metadata=[]), etag=etag,
                                  match_condition=MatchConditions.IfNotModified)
    replaced = m.BatchJobSchedule(job_specification=spec(pool),
                                  schedule=m.BatchJobScheduleConfiguration(do_not_run_until=later(60)))
    batch.replace_job_schedule(schedule_id, replaced)
    got = batch.get_job_schedule(schedule_id)
    assert got.metadata is None and got.job_specification.priority in (None, 0)  # PUT resets what it leaves out
    assert got.execution_info.next_run_time == got.schedule.do_not_run_until


def test_recurrence_creates_one_job_at_a_time_on_the_clock(batch, pool) -> None:
    """Each recurrence's job is `<schedule>:job-<n>`, in its schedule's job list, and runs only once the
    previous one finished."""
    schedule_id = add(batch, pool, m.BatchJobScheduleConfiguration(recurrence_interval=dt.timedelta(minutes=1)))
    ids = wait_for(lambda: len(got := job_ids(batch, schedule_id)) >= 3 and got, timeout=20)
    assert ids[:3] == [f"{schedule_id}:job-{n}" for n in (1, 2, 3)]
    jobs = [batch.get_job(i) for i in ids[:3]]
    assert all(j.pool_info.pool_id == pool for j in jobs)
    for earlier, nxt in zip(jobs, jobs[1:], strict=False):
        assert earlier.state == "completed" and earlier.execution_info.end_time <= nxt.creation_time
    info = batch.get_job_schedule(schedule_id).execution_info
    assert info.recent_job.id.startswith(f"{schedule_id}:job-") and info.next_run_time is not None


def test_an_active_job_holds_back_the_next_recurrence(batch, pool) -> None:
    schedule_id = add(batch, pool, m.BatchJobScheduleConfiguration(recurrence_interval=dt.timedelta(minutes=1)),
                      job_specification=spec(pool, all_tasks_complete_mode="noaction"))
    first = f"{schedule_id}:job-1"
    wait_for(lambda: job_ids(batch, schedule_id) == [first])
    due = batch.get_job_schedule(schedule_id).execution_info.next_run_time
    # Five recurrences come and go (each is dropped when the next is due) while job-1 stays active.
    wait_for(lambda: batch.get_job_schedule(schedule_id).execution_info.next_run_time
             >= due + dt.timedelta(seconds=0.5))
    assert job_ids(batch, schedule_id) == [first]
    batch.begin_terminate_job(first, m._models.BatchJobTerminateOptions(termination_reason="done"),
                              polling_interval=0).result()
    wait_for(lambda: f"{schedule_id}:job-2" in job_ids(batch, schedule_id))


def test_a_missed_start_window_loses_that_recurrence(batch, pool) -> None:
    """Interval 10 min (1 s here), window 2 min (0.2 s): a recurrence due while job-1 still runs is lost once its
    window closed; the next job comes at the following recurrence, not when job-1 ends."""
    schedule_id = add(batch, pool, m.BatchJobScheduleConfiguration(recurrence_interval=dt.timedelta(minutes=10),
                                                                    start_window=dt.timedelta(minutes=2)),
                      job_specification=spec(pool, all_tasks_complete_mode="noaction"))
    first = f"{schedule_id}:job-1"
    wait_for(lambda: job_ids(batch, schedule_id) == [first])
    due = batch.get_job_schedule(schedule_id).execution_info.next_run_time
    # Let that recurrence and its window pass with job-1 still active.
    wait_for(lambda: dt.datetime.now(dt.UTC) > due + dt.timedelta(seconds=0.5), timeout=5)
    batch.begin_terminate_job(first, m._models.BatchJobTerminateOptions(termination_reason="done"),
                              polling_interval=0).result()
    following = wait_for(lambda: (t := batch.get_job_schedule(schedule_id).execution_info.next_run_time) > due and t)
    assert following - due >= dt.timedelta(seconds=0.9)  # the lost one was skipped, not carried forward
    second = wait_for(lambda: f"{schedule_id}:job-2" in job_ids(batch, schedule_id), timeout=10) and \
        batch.get_job(f"{schedule_id}:job-2")
    assert second.creation_time >= following


def test_do_not_run_after_completes_the_schedule(batch, pool) -> None:
    schedule_id = add(batch, pool, m.BatchJobScheduleConfiguration(recurrence_interval=dt.timedelta(minutes=1),
                                                                    do_not_run_after=later(0.02)))
    done = wait_for(lambda: (s := batch.get_job_schedule(schedule_id)).state == "completed" and s, timeout=10)
    assert done.execution_info.end_time and done.execution_info.next_run_time is None
    assert job_ids(batch, schedule_id)  # it ran before its deadline
    with pytest.raises(ResourceExistsError) as info:
        batch.disable_job_schedule(schedule_id)
    assert info.value.error.code == "JobScheduleCompleted"


def test_a_schedule_without_recurrence_runs_once_then_completes(batch, pool) -> None:
    schedule_id = add(batch, pool, m.BatchJobScheduleConfiguration())
    done = wait_for(lambda: (s := batch.get_job_schedule(schedule_id)).state == "completed" and s)
    assert job_ids(batch, schedule_id) == [f"{schedule_id}:job-1"]
    assert done.execution_info.recent_job.id == f"{schedule_id}:job-1"


def test_disable_stops_new_jobs_and_enable_resumes(batch, pool) -> None:
    schedule_id = add(batch, pool, m.BatchJobScheduleConfiguration(do_not_run_until=later(0.02),
                                                                    recurrence_interval=dt.timedelta(minutes=1)))
    batch.disable_job_schedule(schedule_id)
    assert batch.get_job_schedule(schedule_id).state == "disabled"
    due = batch.get_job_schedule(schedule_id).execution_info.next_run_time
    wait_for(lambda: dt.datetime.now(dt.UTC) > due + dt.timedelta(seconds=0.3), timeout=5)
    assert job_ids(batch, schedule_id) == []  # disabled: no job at its run time
    batch.enable_job_schedule(schedule_id)
    got = batch.get_job_schedule(schedule_id)
    assert (got.state, got.previous_state) == ("active", "disabled")
    wait_for(lambda: job_ids(batch, schedule_id))


def test_terminate_ends_the_active_job_and_completes(batch, pool) -> None:
    schedule_id = add(batch, pool, m.BatchJobScheduleConfiguration(recurrence_interval=dt.timedelta(minutes=1)),
                      job_specification=spec(pool, all_tasks_complete_mode="noaction"))
    wait_for(lambda: job_ids(batch, schedule_id))
    batch.begin_terminate_job_schedule(schedule_id, polling_interval=0).result()
    got = batch.get_job_schedule(schedule_id)
    assert got.state == "completed" and got.execution_info.end_time
    job = batch.get_job(f"{schedule_id}:job-1")
    assert job.state == "completed" and job.execution_info.termination_reason == "TerminateJobSchedule"
    with pytest.raises(ResourceExistsError) as info:
        batch.enable_job_schedule(schedule_id)
    assert info.value.error.code == "JobScheduleCompleted"


def test_delete_removes_the_schedule_and_its_jobs(batch, pool) -> None:
    schedule_id = add(batch, pool, m.BatchJobScheduleConfiguration(recurrence_interval=dt.timedelta(minutes=1)),
                      job_specification=spec(pool, all_tasks_complete_mode="noaction"))
    wait_for(lambda: job_ids(batch, schedule_id))
    batch.begin_delete_job_schedule(schedule_id, polling_interval=0).result()
    with pytest.raises(ResourceNotFoundError):
        batch.get_job_schedule(schedule_id)
    with pytest.raises(ResourceNotFoundError):
        batch.get_job(f"{schedule_id}:job-1")


def test_operations_on_a_schedule_being_deleted_are_refused(emulator, batch, pool) -> None:
    schedule_id = add(batch, pool, m.BatchJobScheduleConfiguration(do_not_run_until=later(60)))
    emulator.state.recurrence.stop()  # hold the driver so the schedule stays in `deleting`
    try:
        batch.begin_delete_job_schedule(schedule_id, polling_interval=1)  # the poller is not awaited
        assert batch.get_job_schedule(schedule_id).state == "deleting"
        with pytest.raises(ResourceExistsError) as info:
            batch.disable_job_schedule(schedule_id)
        assert info.value.error.code == "JobScheduleBeingDeleted"
    finally:
        emulator.state.recurrence.start()
    wait_for(lambda: not _exists(batch, schedule_id))


def _exists(batch, schedule_id: str) -> bool:
    try:
        batch.get_job_schedule(schedule_id)
    except ResourceNotFoundError:
        return False
    return True


def test_what_a_test_leaves_on_the_shared_emulator_is_deleted_after_it(emulator, batch, pool) -> None:
    """tests/conftest.py's `tidy_emulators`, run by every test on a shared emulator: a recurring schedule, its
    runs and an active job created since the test began go (they would run, or hold quota, for every later
    test); a job that was there before stays."""
    kept = make_job(batch, pool)
    held = Held.read(emulator)
    schedule_id = add(batch, pool, m.BatchJobScheduleConfiguration(recurrence_interval=dt.timedelta(minutes=1)),
                      job_specification=spec(pool, all_tasks_complete_mode="noaction"))
    wait_for(lambda: job_ids(batch, schedule_id))
    left = make_job(batch, pool)
    delete_new(emulator, held)
    wait_for(lambda: not _exists(batch, schedule_id) and not Held.read(emulator).jobs - held.jobs)
    assert batch.get_job(kept).state == "active"
    with pytest.raises(ResourceNotFoundError):
        batch.get_job(left)
