"""Task submission's two "different definition" paths, with the runner's real task bodies on the instant emulator:
a `TaskExists` answer counts as added only when the existing task is the one we meant to add, and a re-run
that finds a task with a different definition fails naming it instead of treating it as already there."""

from __future__ import annotations

import uuid

import pytest
from azure.batch import models as m

from bigcompute.local.testing import wait_for
from bigcompute.runner.apply import Hooks, apply_workload, ensure_job, submit_tasks
from bigcompute.runner.errors import DeployError
from bigcompute.runner.plan import WorkloadPlan, make_plan
from bigcompute.runner.session import load_inputs
from bigcompute.runner.submit import existing_tasks
from bigcompute.runner.sync import upload_missing
from tests.runner.conftest import write_workload

WORKLOAD = """\
inputs: [prog/*.sh]
tasks:
  - id: t{i}
    command: sh prog/work.sh {i}
    sweep: {i: {start: 0, stop: 4}}
    outputs: [out/*.txt]
merge:
  command: cat $BIGCOMPUTE_TASK_OUTPUTS/*/sq.txt > total.txt
  outputs: [total.txt]
"""
TASKS = 5  # t0..t3 and the merge


@pytest.fixture
def instant(repo, instant_target, clients_for):
    return clients_for(instant_target)


def planned(repo, clients) -> WorkloadPlan:
    (repo / "workloads" / "prog").mkdir(exist_ok=True)
    (repo / "workloads" / "prog" / "work.sh").write_text("mkdir -p out; echo $(( $1 * $1 )) > out/sq.txt\n")
    write_workload(repo, f"defs-{uuid.uuid4().hex[:6]}", WORKLOAD)
    _, loaded = load_inputs(["workloads"], "test")
    [wp] = make_plan(clients, loaded, quota=50).workloads
    return wp


def job_with_impostor(clients, wp: WorkloadPlan) -> None:
    """The workload's own job (right metadata, right spec) holding a `t2` someone else added with another command."""
    apply_inputs_and_job(clients, wp)
    clients.batch.create_task(wp.job_id, m.BatchTaskCreateOptions(id="t2", command_line="/bin/sh -c 'echo not ours'"))


def apply_inputs_and_job(clients, wp: WorkloadPlan) -> None:
    """The inputs uploaded and the job created; its tasks run (instantly) as they are added."""
    upload_missing(wp.loaded.workload, wp.sync, clients.container("inputs"))
    assert ensure_job(clients, wp, Hooks()) is None  # created, not found


def test_task_exists_with_the_same_definition_counts_as_already_there(instant, repo):
    """A retried collection whose first attempt got through: every answer is `TaskExists`, none is an error."""
    wp = planned(repo, instant)
    apply_inputs_and_job(instant, wp)
    first = submit_tasks(instant, wp, known={}, on_added=lambda n: None)
    assert (first.added, first.existing) == (TASKS, 0)
    again = submit_tasks(instant, wp, known={}, on_added=lambda n: None)  # nothing listed first: all TaskExists
    assert (again.added, again.existing) == (0, TASKS)


def test_task_exists_with_a_different_definition_is_refused_naming_the_task(instant, repo):
    """A task added by someone else under one of our ids must not be counted as ours."""
    wp = planned(repo, instant)
    job_with_impostor(instant, wp)
    with pytest.raises(DeployError) as refused:
        submit_tasks(instant, wp, known={}, on_added=lambda n: None)
    assert str(refused.value) == (f"job {wp.job_id}: 1 tasks were refused: "
                                  "task t2 already exists with a different definition")
    assert instant.batch.get_task(wp.job_id, "t2").command_line == "/bin/sh -c 'echo not ours'"


def test_rerun_counts_identical_existing_tasks_and_adds_none(instant, repo):
    """The listing's spec hashes of our own tasks equal those of the bodies we would send."""
    wp = planned(repo, instant)
    apply_inputs_and_job(instant, wp)
    submit_tasks(instant, wp, known={}, on_added=lambda n: None)
    known = existing_tasks(instant.batch, wp.job_id)
    assert sorted(known) == ["merge", "t0", "t1", "t2", "t3"]
    again = submit_tasks(instant, wp, known=known, on_added=lambda n: None)
    assert (again.added, again.existing) == (0, TASKS)


def test_rerun_finding_a_task_with_a_different_definition_fails_naming_it(instant, repo):
    """apply on a job that already holds a different `t2`: the listed task is not taken as ours; the job is not
    marked submitted."""
    wp = planned(repo, instant)
    job_with_impostor(instant, wp)
    assert "t2" in existing_tasks(instant.batch, wp.job_id)
    with pytest.raises(DeployError, match=r"1 tasks were refused: task t2 already exists with a different definition"):
        apply_workload(instant, wp)
    job = instant.batch.get_job(wp.job_id)
    assert {x.name: x.value for x in job.metadata}["bigcompute.submitted"] == "false"


def test_a_resumed_submission_makes_the_merge_depend_on_every_task(instant, repo):
    """A job holding part of its tasks (an apply killed mid-submission): the re-run adds the rest, and the merge it
    adds depends on every task, those found as well as those it added."""
    wp = planned(repo, instant)
    apply_inputs_and_job(instant, wp)
    submit_tasks(instant, wp, known={}, on_added=lambda n: None)
    for gone in ("t2", "t3", "merge"):  # as if the apply died after adding t0 and t1
        instant.batch.delete_task(wp.job_id, gone)
    known = existing_tasks(instant.batch, wp.job_id)
    assert sorted(known) == ["t0", "t1"]
    resumed = submit_tasks(instant, wp, known=known, on_added=lambda n: None)
    assert (resumed.added, resumed.existing) == (3, 2)
    merge = instant.batch.get_task(wp.job_id, "merge")
    assert merge.depends_on.task_ids == ["t0", "t1", "t2", "t3"]


def test_tasks_with_staged_inputs_succeed_on_the_instant_emulator(instant, repo):
    """The runner's task bodies guard their staged inputs with `... || { ...; exit 1; }`: a failure path the
    instant emulator must not read as the outcome. Every task, the merge included, ends a success."""
    wp = planned(repo, instant)
    apply_inputs_and_job(instant, wp)
    submit_tasks(instant, wp, known={}, on_added=lambda n: None)
    assert any("exit 1" in t.command_line for t in instant.batch.list_tasks(wp.job_id))  # the guard is there
    done = wait_for(lambda: (ts := list(instant.batch.list_tasks(wp.job_id))) and
                    all(t.state == "completed" for t in ts) and ts)
    assert sorted((t.id, t.execution_info.exit_code, t.execution_info.result) for t in done) == [
        (i, 0, "success") for i in ("merge", "t0", "t1", "t2", "t3")]
