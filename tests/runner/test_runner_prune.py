"""Prune and delete on a Batch account shared by colleagues: only this repository's and stack's jobs are
removed, removed workloads only on a whole-folder apply, active jobs only with --force, never unasked."""

from __future__ import annotations

import json
import subprocess
import textwrap
import uuid
from pathlib import Path

import pytest
from azure.batch import models as m
from click.testing import CliRunner

from bigcompute.cli.main import cli
from bigcompute.cli.terminal import Terminal
from bigcompute.runner.jobs import (
    MANAGED,
    REPOSITORY,
    STACK,
    WORKLOAD,
    normalize_remote,
    repository_identity,
    wire,
)
from bigcompute.runner.prune import _terminate_options
from tests.runner.conftest import STACK as STACK_YAML
from tests.runner.conftest import write_local_files, write_workload
from tests.runner.test_runner_cli import run

WAIT = ("--stack", "test", "--wait", "--poll-interval", "0.2")


@pytest.fixture
def colleague(tmp_path_factory, local_target) -> Path:
    """A second repository using the same Batch account and storage, with its own checkout."""
    other = tmp_path_factory.mktemp("colleague")
    for folder in (".git", "stacks", "workloads"):
        (other / folder).mkdir()
    (other / "stacks" / "Pulumi.test.yaml").write_text(textwrap.dedent(STACK_YAML))
    write_local_files(other, local_target)
    return other


def in_folder(monkeypatch, folder: Path, *args: str):
    """`bigcompute ARGS` run from `folder` (then back where the test was)."""
    back = Path.cwd()
    monkeypatch.chdir(folder)
    try:
        return run(*args)
    finally:
        monkeypatch.chdir(back)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def job_ids(clients) -> set[str]:
    return {j.id for j in clients.batch.list_jobs() if wire(j.state) != "deleting"}


def job_of(result) -> str:
    return result.output.split(" submitted")[0].split("job ")[-1]


def task_state(clients, job: str, task: str) -> str:
    return wire(clients.batch.get_task(job, task).state)


def stop(clients, *jobs: str) -> None:
    """Free the session's node for the next tests."""
    for job in jobs:
        clients.batch.begin_delete_job(job, polling_interval=0.2).result()


def test_jobs_record_their_repository_and_stack(repo, local_files, clients):
    name = unique("recorded")
    write_workload(repo, name, "tasks:\n  - {id: a, command: echo hi}\n")
    job = job_of(run("apply", *WAIT))
    meta = {i.name: i.value for i in clients.batch.get_job(job).metadata}
    assert meta[REPOSITORY] == str(repo) and meta[STACK] == "test"


def test_repository_identity_is_the_origin_url_without_credentials(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin",
                    "https://x-access-token:ghp_secret@GitHub.com/Org/Repo.git"], check=True)
    (tmp_path / "workloads").mkdir()
    assert repository_identity(tmp_path / "workloads") == "github.com/Org/Repo"
    assert normalize_remote("git@github.com:Org/Repo.git") == "github.com/Org/Repo"
    assert normalize_remote("ssh://git@github.com/Org/Repo/") == "github.com/Org/Repo"


def test_a_project_outside_git_has_one_identity_for_its_workloads_and_its_root(tmp_path, monkeypatch):
    (tmp_path / "Pulumi.yaml").write_text("name: p\n")
    (tmp_path / "workloads").mkdir()
    monkeypatch.chdir(tmp_path)
    assert repository_identity(Path("workloads")) == repository_identity(Path.cwd()) == str(tmp_path.resolve())


def test_prune_of_a_file_deletes_only_its_superseded_job_and_spares_colleagues(repo, local_files, colleague,
                                                                               clients, monkeypatch):
    shared, foreign, gone = unique("shared"), unique("foreign"), unique("gone")
    # The colleague: a workload with the same name as ours, still running, and a workload of their own.
    write_workload(colleague, shared, "tasks:\n  - {id: slow, command: sleep 30}\n")
    write_workload(colleague, foreign, "tasks:\n  - {id: quick, command: echo theirs}\n")
    theirs = in_folder(monkeypatch, colleague, "apply", "--stack", "test")
    assert theirs.exit_code == 0, theirs.output
    their_shared = next(j for j in job_ids(clients) if j.startswith(shared))
    their_foreign = next(j for j in job_ids(clients) if j.startswith(foreign))

    path = write_workload(repo, shared, "tasks:\n  - {id: a, command: echo one}\n")
    write_workload(repo, gone, "tasks:\n  - {id: a, command: echo bye}\n")
    assert run("apply", *WAIT).exit_code == 0
    mine = {j for j in job_ids(clients) if j.startswith((shared, gone))} - {their_shared}
    [my_v1] = [j for j in mine if j.startswith(shared)]
    [my_gone] = [j for j in mine if j.startswith(gone)]
    path.write_text(path.read_text().replace("echo one", "echo two"))
    (repo / "workloads" / f"{gone}.yaml").unlink()

    result = run("apply", f"workloads/{shared}.yaml", "--prune", "--yes", *WAIT)
    assert result.exit_code == 0, result.output
    assert f"will delete job {my_v1} (superseded by {job_of(result)}; completed)" in result.output
    assert f"deleted job {my_v1}" in result.output
    ids = job_ids(clients)
    assert my_v1 not in ids
    assert {their_shared, their_foreign, my_gone} <= ids  # a file's apply never prunes removed workloads
    assert task_state(clients, their_shared, "slow") in ("active", "running")

    plan = json.loads(run("plan", "--stack", "test", "--format", "json").output)
    assert plan["prune"] == [{"job": my_gone, "workload": gone, "reason": f"workload {gone} no longer exists",
                              "state": "completed", "active": False}]
    table = CliRunner().invoke(cli, ["plan", "--stack", "test"], env={"COLUMNS": "300"})
    assert f"workload {gone} no longer exists" in table.output and their_foreign not in table.output

    whole = run("apply", "--stack", "test", "--prune", "--yes")
    assert whole.exit_code == 0, whole.output
    assert f"deleted job {my_gone}" in whole.output
    ids = job_ids(clients)
    assert my_gone not in ids and {their_shared, their_foreign} <= ids
    assert task_state(clients, their_shared, "slow") in ("active", "running")
    stop(clients, their_shared)


def test_an_active_superseded_job_is_terminated_only_with_force(repo, local_files, clients):
    name = unique("busy")
    path = write_workload(repo, name, "tasks:\n  - {id: slow, command: sleep 30}\n")
    v1 = job_of(run("apply", "--stack", "test"))
    path.write_text(path.read_text().replace("sleep 30", "echo done"))

    kept = run("apply", f"workloads/{name}.yaml", "--stack", "test", "--prune", "--yes")
    assert kept.exit_code == 0, kept.output
    assert f"skipping job {v1} (superseded by {job_of(kept)}): it is still active; --force terminates it" \
        in kept.output
    assert v1 in job_ids(clients)
    plan = json.loads(run("plan", "--stack", "test", "--format", "json").output)
    assert [(r["job"], r["active"]) for r in plan["prune"]] == [(v1, True)]
    assert "skipped unless --force (active)" in run("plan", "--stack", "test", "--format", "markdown").output

    forced = run("apply", f"workloads/{name}.yaml", "--stack", "test", "--prune", "--yes", "--force")
    assert forced.exit_code == 0, forced.output
    assert f"will terminate and delete job {v1}" in forced.output and f"deleted job {v1}" in forced.output
    assert v1 not in job_ids(clients)


def test_prune_without_a_terminal_or_yes_refuses_before_anything_happens(repo, local_files, clients, monkeypatch):
    name = unique("asked")
    path = write_workload(repo, name, "tasks:\n  - {id: a, command: echo one}\n")
    v1 = job_of(run("apply", *WAIT))
    path.write_text(path.read_text().replace("echo one", "echo two"))
    before = job_ids(clients)

    refused = run("apply", "--stack", "test", "--prune")
    assert refused.exit_code == 2
    assert "refusing to delete 1 job(s) without confirmation (no terminal to ask on): check the list above " \
           "and pass --yes; nothing was changed" in refused.output
    assert job_ids(clients) == before  # v1 kept, and v2 not created either

    monkeypatch.setattr(Terminal, "can_ask", property(lambda self: True))
    declined = CliRunner().invoke(cli, ["apply", "--stack", "test", "--prune"], input="n\n")
    assert declined.exit_code == 1 and "Delete 1 job(s)? [y/N]" in declined.output
    assert job_ids(clients) == before
    accepted = CliRunner().invoke(cli, ["apply", "--stack", "test", "--prune"], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert v1 not in job_ids(clients) and f"deleted job {v1}" in accepted.output


def test_jobs_of_another_stack_are_not_pruned(repo, local_files, clients):
    name = unique("staged")
    path = write_workload(repo, name, "tasks:\n  - {id: a, command: echo one}\n")
    on_test = job_of(run("apply", *WAIT))
    (repo / "stacks" / "Pulumi.other.yaml").write_text(textwrap.dedent(STACK_YAML))
    outputs = local_files / "outputs.json"
    outputs.write_text(json.dumps({**json.loads(outputs.read_text()), "stack": "other"}))
    path.write_text(path.read_text().replace("echo one", "echo two"))

    [row] = json.loads(run("plan", "--stack", "other", "--format", "json").output)["workloads"]
    assert row["status"] == "new" and row["supersedes"] == []
    result = run("apply", "--stack", "other", "--prune", "--yes", "--wait", "--poll-interval", "0.2")
    assert result.exit_code == 0, result.output
    assert "nothing to prune" in result.output
    assert on_test in job_ids(clients)


def test_older_jobs_without_a_record_are_only_deleted_explicitly(repo, local_files, clients, local_target):
    name = unique("legacy")
    write_workload(repo, name, "tasks:\n  - {id: a, command: echo new}\n")
    old = f"{name}-0ld0ld00"
    clients.batch.create_job(m.BatchJobCreateOptions(
        id=old, pool_info=m.BatchPoolInfo(pool_id=local_target.pool_ids["cpu"]),
        metadata=[m.BatchMetadataItem(name=MANAGED, value="true"), m.BatchMetadataItem(name=WORKLOAD, value=name)]))
    clients.batch.begin_terminate_job(old, options=_terminate_options("done"), polling_interval=0.2).result()

    plan = json.loads(run("plan", "--stack", "test", "--format", "json").output)
    assert plan["prune"] == [] and plan["notPrunable"] == [old]
    result = run("apply", "--stack", "test", "--prune", "--yes", *WAIT[2:])
    assert result.exit_code == 0, result.output
    assert f"never pruned automatically: {old} (created before jobs recorded their repository and stack); " \
           "remove them with `bigcompute delete WORKLOAD`" in result.output
    assert old in job_ids(clients)

    deleted = run("delete", name, "--stack", "test", "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert f"will delete job {old} (created before jobs recorded their repository and stack; completed)" \
        in deleted.output
    assert old not in job_ids(clients)


def test_delete_touches_only_this_repository_and_asks(repo, local_files, colleague, clients, monkeypatch):
    name = unique("twin")
    write_workload(colleague, name, "tasks:\n  - {id: a, command: echo theirs}\n")
    assert in_folder(monkeypatch, colleague, "apply", *WAIT).exit_code == 0
    write_workload(repo, name, "tasks:\n  - {id: slow, command: sleep 30}\n")
    mine = job_of(run("apply", "--stack", "test"))
    theirs = next(j for j in job_ids(clients) if j.startswith(name) and j != mine)

    refused = run("delete", name, "--stack", "test")
    assert refused.exit_code == 0  # nothing to delete without --force: the only job is active
    assert f"skipping job {mine} (job of workload {name}): it is still active; --force terminates it" \
        in refused.output
    assert theirs not in refused.output
    unasked = run("delete", name, "--stack", "test", "--force")
    assert unasked.exit_code == 2 and mine in job_ids(clients)

    forced = run("delete", name, "--stack", "test", "--force", "--yes")
    assert forced.exit_code == 0, forced.output
    assert f"deleted job {mine}" in forced.output
    ids = job_ids(clients)
    assert mine not in ids and theirs in ids
