"""Retry and resume on the local target: a changed spec reuses the tasks that did not change (their outputs are
copied, the merge sees them), `retry` reactivates failed tasks of an active job in place and runs an ended job's
next attempt, reusing what succeeded; what cannot be done as asked exits 2 and changes nothing."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.runner.test_runner_cli import run, setup

SWEEP = """\
inputs: [prog/work.sh]
tasks:
  - id: t{i}
    command: sh prog/work.sh {i}
    sweep: {i: {start: 0, stop: STOP}}
    outputs: [out/*.txt]
merge:
  command: mkdir -p results; cat $BIGCOMPUTE_TASK_OUTPUTS/*/sq.txt | sort -n | tr '\\n' ' ' > results/total.txt
  outputs: [results/total.txt]
download: [merge/total.txt]
"""


@pytest.fixture
def flag() -> Path:
    """A file the tasks can see (whichever user they run as) whose presence lets a flaky task succeed."""
    folder = Path(tempfile.mkdtemp(prefix="bigcompute-flag-"))
    folder.chmod(0o755)
    yield folder / "fixed"
    shutil.rmtree(folder, ignore_errors=True)


def plan_row(name: str) -> dict:
    result = run("plan", "--stack", "test", "--format", "json")
    assert result.exit_code == 0, result.output
    [row] = [w for w in json.loads(result.output)["workloads"] if w["workload"] == name]
    return row


def task_ids(clients, job: str) -> set[str]:
    return {t.id for t in clients.batch.list_tasks(job, select=["id"])}


def test_a_changed_sweep_reuses_the_unchanged_tasks(repo, local_files, clients):
    name = setup(repo, "sweep", SWEEP.replace("STOP", "3"))
    first = plan_row(name)["job"]
    assert run("apply", "--stack", "test", "--wait", "--poll-interval", "0.2").exit_code == 0
    path = repo / "workloads" / f"{name}.yaml"
    path.write_text(path.read_text().replace("stop: 3", "stop: 5"))

    row = plan_row(name)
    assert (row["status"], row["reused"], row["tasks"]) == ("changed", 3, 6)
    table = run("plan", "--stack", "test", "--format", "markdown").output
    assert f"changed, supersedes {first}; 3 of 6 tasks unchanged, reused" in table

    applied = run("apply", "--stack", "test", "--wait", "--poll-interval", "0.2")
    assert applied.exit_code == 0, applied.output
    text = " ".join(applied.output.split())
    assert "reusing 3 unchanged tasks that succeeded before: copying their outputs" in text
    assert f"{name}: all 3 tasks succeeded, 3 more reused from earlier jobs (job {row['job']})" in text
    assert task_ids(clients, row["job"]) == {"t3", "t4", "merge"}  # t0..t2 did not run again
    # the merge read the reused outputs next to the new ones, and the job's outputs hold them all
    assert (repo / "out" / name / "merge" / "total.txt").read_text().split() == ["0", "1", "4", "9", "16"]
    fetched = run("download", name, "--stack", "test", "--all", "--to", "all")
    assert fetched.exit_code == 0, fetched.output
    assert (repo / "all" / name / "t1" / "sq.txt").read_text() == "1\n"


def test_a_changed_input_reuses_nothing(repo, local_files):
    name = setup(repo, "inputs", SWEEP.replace("STOP", "2"))
    assert run("apply", "--stack", "test", "--wait", "--poll-interval", "0.2").exit_code == 0
    (repo / "workloads" / "prog" / "work.sh").write_text("mkdir -p out; echo $(( $1 + $1 )) > out/sq.txt\n")
    row = plan_row(name)
    assert (row["status"], row["reused"]) == ("changed", 0)
    applied = run("apply", "--stack", "test", "--wait", "--poll-interval", "0.2")
    assert applied.exit_code == 0, applied.output
    assert (repo / "out" / name / "merge" / "total.txt").read_text().split() == ["0", "2"]


def test_retry_of_an_ended_job_runs_its_next_attempt_reusing_what_succeeded(repo, local_files, clients, flag):
    name = setup(repo, "flaky", SWEEP.replace("STOP", "3").replace(
        "command: sh prog/work.sh {i}", f"command: test {{i}} != 2 || test -f {flag} && sh prog/work.sh {{i}}"))
    first = run("apply", "--stack", "test", "--wait", "--poll-interval", "0.2")
    assert first.exit_code == 1 and "task t2: exit code 1" in first.output
    job = plan_row(name)["job"]

    refused = run("retry", name, "--stack", "test", "--task", "t2")
    assert refused.exit_code == 2
    assert (f"job {job} has ended (completed): Batch reactivates tasks only in an active job, so --task cannot "
            "be met") in " ".join(refused.output.split())
    assert not [j for j in clients.batch.list_jobs() if j.id == f"{job}-r2"]  # nothing was created

    flag.write_text("")
    retried = run("retry", name, "--stack", "test", "--wait", "--poll-interval", "0.2")
    assert retried.exit_code == 0, retried.output
    text = " ".join(retried.output.split())
    assert "attempt 2 reruns 2 task(s) and reuses 2 that succeeded" in text
    assert f"all 2 tasks succeeded, 2 more reused from earlier jobs (job {job}-r2)" in text
    assert task_ids(clients, f"{job}-r2") == {"t2", "merge"}
    row = plan_row(name)
    assert (row["job"], row["status"]) == (f"{job}-r2", "unchanged")  # the spec's latest attempt is its job
    fetched = run("download", name, "--stack", "test", "--all")
    assert fetched.exit_code == 0, fetched.output
    assert (repo / "out" / name / "merge" / "total.txt").read_text().split() == ["0", "1", "4"]
    assert (repo / "out" / name / "t0" / "sq.txt").read_text() == "0\n"
    again = run("retry", name, "--stack", "test")
    assert again.exit_code == 0 and f"nothing to retry: no task of job {job}-r2 failed" in again.output


def test_retry_reactivates_a_failed_task_of_an_active_job(repo, local_files, clients, flag):
    name = setup(repo, "active", f"""\
        tasks:
          - {{id: slow, command: sleep 4}}
          - {{id: flaky, command: test -f {flag}}}
        """)
    assert run("apply", "--stack", "test").exit_code == 0
    job = plan_row(name)["job"]
    for _ in range(100):
        if clients.batch.get_job_task_counts(job).task_counts.failed:
            break
        import time
        time.sleep(0.05)
    wrong = run("retry", name, "--stack", "test", "--task", "slow")
    assert wrong.exit_code == 2 and f"job {job}: task(s) slow did not fail; failed tasks: flaky" in wrong.output
    flag.write_text("")
    retried = run("retry", name, "--stack", "test", "--task", "flaky", "--wait", "--poll-interval", "0.2")
    assert retried.exit_code == 0, retried.output
    assert f"{name}: reactivated 1 failed task(s) of job {job}: flaky" in retried.output
    assert f"{name}: all 2 tasks succeeded (job {job})" in retried.output
    assert task_ids(clients, job) == {"slow", "flaky"}  # in place: no new job
    assert [j.id for j in clients.batch.list_jobs() if j.id.startswith(f"{name}-")] == [job]


def test_the_emulator_refuses_to_reactivate_a_task_of_an_ended_job_as_batch_does(repo, local_files, clients):
    """Why `retry` runs an ended job's next attempt rather than reactivating in place."""
    from azure.core.exceptions import HttpResponseError

    name = setup(repo, "ended", "tasks:\n  - {id: bad, command: exit 2}\n")
    assert run("apply", "--stack", "test", "--wait", "--poll-interval", "0.2").exit_code == 1
    job = plan_row(name)["job"]
    assert clients.batch.get_job(job).state == "completed"
    with pytest.raises(HttpResponseError) as refused:
        clients.batch.reactivate_task(job, "bad")
    assert (refused.value.status_code, refused.value.error.code) == (409, "JobCompleted")


def test_tasks_that_depend_on_each_other_are_never_reused_and_the_plan_says_why(repo, local_files):
    name = setup(repo, "chain", """\
        tasks:
          - {id: a, command: echo a}
          - {id: b, command: echo b, dependsOn: [a]}
        """)
    assert run("apply", "--stack", "test", "--wait", "--poll-interval", "0.2").exit_code == 0
    path = repo / "workloads" / f"{name}.yaml"
    path.write_text(path.read_text().replace("echo b", "echo bb"))
    row = plan_row(name)
    assert (row["status"], row["reused"], row["reuseNote"]) == ("changed", 0,
                                                                "no task reused: tasks depend on each other")


def test_a_job_ended_by_a_failed_task_while_tasks_were_being_added_is_its_outcome(repo, clients):
    """A task that fails while the others are still being added ends a job with a merge: the refused collection
    is the job's outcome (said), not an error of apply's; the next plan finds the job over, `retry` runs it again.
    The job is ended here the way Batch ends it (terminateReason TaskFailed), right before the tasks go in."""
    from azure.batch.models._models import BatchJobTerminateOptions

    from bigcompute.runner.apply import Hooks, apply_workload
    from bigcompute.runner.plan import make_plan
    from bigcompute.runner.session import load_inputs

    name = setup(repo, "midway", SWEEP.replace("STOP", "3"))
    _, loaded = load_inputs([f"workloads/{name}.yaml"], "test")
    [wp] = make_plan(clients, loaded, quota=50).workloads
    said: list[str] = []

    def step(message: str) -> None:
        said.append(message)
        if message.startswith("adding"):
            clients.batch.begin_terminate_job(wp.job_id, options=BatchJobTerminateOptions(
                termination_reason="TaskFailed"), polling_interval=0.1).result()

    report = apply_workload(clients, wp, Hooks(step=step))
    assert report.added == 0
    assert said[-1] == (f"a task failed while the tasks were being added, so Batch ended job {wp.job_id} (its merge "
                        "could never run); the tasks not yet added never will be")
    [again] = make_plan(clients, loaded, quota=50).workloads
    assert (again.job_id, again.status) == (wp.job_id, "unchanged")
