"""The runner's public interface used directly, as any front end would: plain results, and events that tell what
happens (the CLI renders them; here they are recorded)."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from bigcompute.runner.api import (
    DeployError,
    InvalidInput,
    Message,
    Phase,
    Polled,
    Runner,
    Submitting,
    TargetArgs,
    TasksAdded,
    Watching,
    WatchOptions,
)
from tests.runner.conftest import write_workload


def test_apply_returns_plain_results_and_tells_its_phases_through_events(repo, local_files):
    name = f"api-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, "tasks:\n  - id: t{i}\n    command: exit {i}\n    sweep: {i: {start: 0, stop: 3}}\n")
    events: list = []
    runner = Runner(TargetArgs("local", "test"), events.append)
    plan = runner.plan(("workloads",))
    [planned] = plan.workloads
    assert (planned.workload, planned.status, planned.tasks) == (name, "new", 3)
    assert plan.explanation.has_changes and events == []  # plan changes nothing and has nothing to tell

    result = runner.apply(("workloads",), wait=True, watch=WatchOptions(interval=0.2))
    [submitted] = result.submitted
    assert (submitted.workload, submitted.job, submitted.added) == (name, planned.job, 3)
    [outcome] = result.watch.jobs
    assert not outcome.succeeded and [f.id for f in outcome.failed] == ["t1", "t2"]
    kinds = [type(e) for e in events]
    assert kinds.index(Submitting) < kinds.index(TasksAdded) < kinds.index(Watching) < kinds.index(Polled)
    assert [e.name for e in events if isinstance(e, Phase)] == ["submitting", "watching", "downloading"]
    assert sum(e.count for e in events if isinstance(e, TasksAdded)) == 3
    assert f"{name}: job {planned.job} submitted (3 tasks added, 0 already there)" in [
        e.text for e in events if isinstance(e, Message)]
    for value in (plan, result):  # plain values: nothing in them is an SDK object
        assert dataclasses.is_dataclass(value)

    found = runner.tasks(name, state="failed")
    assert [(t.id, t.exit_code, t.parameters["i"]) for t in found.tasks] == [("t1", 1, "1"), ("t2", 2, "2")]
    assert runner.history(name).jobs[0].job == planned.job


def test_errors_are_the_interfaces_own(repo, local_files):
    runner = Runner(TargetArgs("local", "test"))
    with pytest.raises(InvalidInput):
        runner.tasks("no-such-workload")
    write_workload(repo, f"never-{uuid.uuid4().hex[:6]}", "tasks:\n  - {id: a, command: exit 0}\n")
    with pytest.raises(DeployError, match="has no job yet"):
        runner.tasks(next(p.stem for p in (repo / "workloads").glob("never-*.yaml")))
