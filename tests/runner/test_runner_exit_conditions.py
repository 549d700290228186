"""Exit conditions and the job release task end to end on the local target (issue 16 item 8): an exit code
mapped to `jobAction: terminate` ends the job while another task still runs, one mapped to
`dependencyAction: satisfy` lets its dependent run, and the release task runs on the node when the job ends."""

from __future__ import annotations

import time
import uuid

from bigcompute.runner.apply import apply_workload
from bigcompute.runner.plan import make_plan
from bigcompute.runner.prune import _terminate_options
from bigcompute.runner.session import load_inputs
from tests.runner.conftest import write_workload


def _run(clients, repo, body: str):
    name = f"exits-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, body)
    _, loaded = load_inputs(["workloads"], "test")
    [wp] = make_plan(clients, loaded, quota=50).workloads
    apply_workload(clients, wp)
    return wp.job_id


def _wait_completed(batch, job_id: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = batch.get_job(job_id)
        if str(job.state) in ("completed", "JobState.COMPLETED") or getattr(job.state, "value", "") == "completed":
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {batch.get_job(job_id).state} after {timeout}s")


def _tasks(batch, job_id: str) -> dict:
    return {t.id: t for t in batch.list_tasks(job_id)}


def test_exit_code_mapped_to_terminate_ends_the_job_and_the_release_task_runs(repo, clients):
    job_id = _run(clients, repo, """\
        prepare: {command: 'true'}
        release: {command: 'echo released'}
        tasks:
          - id: fail
            command: sleep 1; exit 3
            settings: {exitConditions: {exitCodes: [{code: 3, jobAction: terminate}]}}
          - id: slow
            command: sleep 60
        """)
    started = time.monotonic()
    job = _wait_completed(clients.batch, job_id, timeout=45)
    assert time.monotonic() - started < 40  # ended by the exit code, not by `slow` finishing its minute
    assert job.execution_info.termination_reason == "TaskFailed"
    assert job.task_failure_mode == "performexitoptionsjobaction"
    tasks = _tasks(clients.batch, job_id)
    assert tasks["fail"].execution_info.exit_code == 3
    assert tasks["slow"].execution_info.result == "failure"  # stopped by the job's end, never succeeded
    # Batch ran the release task on the node where the preparation ran, once the job ended
    [status] = list(clients.batch.list_job_preparation_and_release_task_status(job_id))
    release = status.job_release_task_execution_info
    assert release is not None and release.exit_code == 0 and release.result == "success"


def test_exit_code_mapped_to_satisfy_lets_the_dependent_run(repo, clients):
    job_id = _run(clients, repo, """\
        tasks:
          - id: first
            command: exit 4
            settings: {exitConditions: {exitCodes: [{code: 4, dependencyAction: satisfy}]}}
          - id: second
            command: echo ran
            dependsOn: [first]
          - id: third
            command: exit 5
          - id: fourth
            command: echo never
            dependsOn: [third]
        """)
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        tasks = _tasks(clients.batch, job_id)
        if str(getattr(tasks["second"].state, "value", tasks["second"].state)) == "completed" and \
                tasks["third"].execution_info and tasks["third"].execution_info.end_time:
            break
        time.sleep(0.2)
    tasks = _tasks(clients.batch, job_id)
    assert tasks["first"].execution_info.exit_code == 4 and tasks["first"].execution_info.result == "failure"
    assert tasks["second"].execution_info.result == "success"  # satisfied by exit code 4
    assert tasks["third"].execution_info.exit_code == 5
    # exit code 5 is unmapped: Batch's default dependencyAction for a failure is block
    assert getattr(tasks["fourth"].state, "value", tasks["fourth"].state) == "active"
    assert (tasks["fourth"].execution_info is None or tasks["fourth"].execution_info.start_time is None)
    # no jobAction anywhere: the job keeps Batch's default mode, and one failure does not end it
    assert clients.batch.get_job(job_id).task_failure_mode == "noaction"
    # frees the job (its last task never runs)
    clients.batch.begin_terminate_job(job_id, options=_terminate_options("test"), polling_interval=0.2).result()


def test_deleting_a_job_still_running_runs_its_release_task_first(repo, clients, tmp_path):
    marker = tmp_path / "released"
    job_id = _run(clients, repo, f"""\
        prepare: {{command: 'true'}}
        release: {{command: 'touch {marker}', elevated: true}}
        tasks: [{{id: slow, command: sleep 60}}]
        """)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _tasks(clients.batch, job_id)["slow"].state != "running":
        time.sleep(0.2)
    assert not marker.exists()
    clients.batch.begin_delete_job(job_id, polling_interval=0.2).result()
    assert marker.exists()  # the release ran on the node before the job was gone


def test_an_exit_code_mapped_to_disable_stops_the_job_and_the_watch_ends(repo, clients):
    from bigcompute.runner.monitor import watch

    job_id = _run(clients, repo, """\
        tasks:
          - id: stop
            command: exit 6
            settings: {exitConditions: {exitCodes: [{code: 6, jobAction: disable}]}}
          - {id: later, command: sleep 1, dependsOn: [stop]}
        """)
    started = time.monotonic()
    progress = watch(clients.batch, job_id, total=2, interval=0.2, timeout=45)
    assert time.monotonic() - started < 30  # the watch saw the job disabled and ended, not its timeout
    assert progress.state == "disabled" and progress.failed == 1
    clients.batch.begin_terminate_job(job_id, options=_terminate_options("test"), polling_interval=0.2).result()


def test_the_release_task_is_stopped_at_its_timeout(repo, clients):
    job_id = _run(clients, repo, """\
        prepare: {command: 'true'}
        release: {command: sleep 20, timeout: PT1S}
        tasks: [{id: a, command: 'true'}]
        """)
    started = time.monotonic()
    _wait_completed(clients.batch, job_id, timeout=15)
    assert time.monotonic() - started < 12  # not the 20 s the command asked for
    [status] = list(clients.batch.list_job_preparation_and_release_task_status(job_id))
    assert status.job_release_task_execution_info.result == "failure"
