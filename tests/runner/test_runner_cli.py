"""The runner's commands as a user runs them on the local target."""

from __future__ import annotations

import json
import uuid

from click.testing import CliRunner

from bigcompute.cli.main import cli
from tests.runner.conftest import write_workload

SQUARES = """\
description: squares of a few numbers
inputs: [prog/work.sh]
tasks:
  - id: t{i}
    command: sh prog/work.sh {i}
    sweep: {i: {start: 0, stop: 4}}
    outputs: [out/*.txt]
merge:
  command: mkdir -p results; cat $BIGCOMPUTE_TASK_OUTPUTS/*/sq.txt | sort -n | tr '\\n' ' ' > results/total.txt
  outputs: [results/total.txt]
download: [merge/total.txt]
"""


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def setup(repo, name="squares", body=SQUARES):
    """Write a workload whose name is unique in the session (the target is shared by all tests)."""
    name = f"{name}-{uuid.uuid4().hex[:6]}"
    (repo / "workloads" / "prog").mkdir(exist_ok=True)
    (repo / "workloads" / "prog" / "work.sh").write_text(
        "mkdir -p out results; echo $(( $1 * $1 )) > out/sq.txt\n")
    write_workload(repo, name, body)
    return name


def test_plan_apply_status_download_delete(repo, local_files):
    name = setup(repo)
    plan = run("plan", "--stack", "test", "--format", "json")
    assert plan.exit_code == 0, plan.output
    [row] = json.loads(plan.output)["workloads"]
    assert row["status"] == "new" and row["tasks"] == 5 and row["uploadFiles"] == 1

    applied = run("apply", "--stack", "test", "--wait", "--poll-interval", "0.2")
    assert applied.exit_code == 0, applied.output
    assert f"{name}: all 5 tasks succeeded (job {row['job']})" in applied.output
    assert (repo / "out" / name / "merge" / "total.txt").read_text().split() == ["0", "1", "4", "9"]
    manifest = json.loads((repo / "out" / name / "manifest.json").read_text())
    assert manifest["job"] == row["job"] and set(manifest["tasks"]) == {"t0", "t1", "t2", "t3", "merge"}

    again = run("plan", "--stack", "test", "--format", "markdown")
    assert f"| {name} | `{row['job']}` | unchanged (job exists) | 5 | 0 files, 0 bytes |" in again.output
    reapply = run("apply", "--stack", "test")
    assert reapply.exit_code == 0 and "is up to date" in reapply.output

    status = run("status", "--stack", "test", "--format", "json")
    [st] = json.loads(status.output)
    assert (st["job"], st["state"], st["succeeded"], st["failed"]) == (row["job"], "completed", 5, 0)

    logs = run("logs", name, "t2", "--stack", "test", "--stderr")
    assert logs.exit_code == 0 and logs.output == ""

    fetched = run("download", name, "--stack", "test", "--to", "fetched", "--all")
    assert fetched.exit_code == 0, fetched.output
    assert (repo / "fetched" / name / "t3" / "sq.txt").read_text() == "9\n"

    deleted = run("delete", name, "--stack", "test")
    assert deleted.exit_code == 0 and f"deleted job {row['job']}" in deleted.output
    assert json.loads(run("plan", "--stack", "test", "--format", "json").output)["workloads"][0]["status"] == "new"


def test_failed_tasks_exit_one_with_stderr_tail(repo, local_files):
    name = setup(repo, "failing", """\
        tasks:
          - id: ok
            command: echo fine
          - id: bad
            command: echo 'disk on fire' >&2; exit 3
            settings: {retries: 1}
        """)
    result = run("apply", f"workloads/{name}.yaml", "--stack", "test", "--wait", "--poll-interval", "0.2")
    assert result.exit_code == 1
    assert f"{name}: 1 of 2 tasks failed" in result.output
    assert "task bad: exit code 3" in result.output
    assert "disk on fire" in result.output


def test_invalid_workload_changes_nothing(repo, local_files, clients):
    name = setup(repo, "broken", "tasks:\n  - {id: a, comand: x}\n")
    before = {j.id for j in clients.batch.list_jobs()}
    result = run("apply", "--stack", "test", "--wait")
    assert result.exit_code == 2
    assert f"workloads/{name}.yaml:6:13: $.tasks[0].comand: unknown key 'comand'" in result.output
    assert {j.id for j in clients.batch.list_jobs()} == before
    assert not list(clients.container("inputs").list_blobs(name_starts_with=f"{name}/"))


def test_changed_workload_supersedes_and_prune_deletes_the_old_job(repo, local_files, clients):
    name = setup(repo, "evolving", "tasks:\n  - {id: a, command: echo one}\n")
    path = repo / "workloads" / f"{name}.yaml"
    first = json.loads(run("plan", "--stack", "test", "--format", "json").output)["workloads"][0]["job"]
    assert run("apply", "--stack", "test", "--wait", "--poll-interval", "0.2").exit_code == 0
    path.write_text(path.read_text().replace("echo one", "echo two"))
    [row] = json.loads(run("plan", "--stack", "test", "--format", "json").output)["workloads"]
    assert row["status"] == "changed" and row["supersedes"] == [first]
    result = run("apply", "--stack", "test", "--wait", "--prune", "--poll-interval", "0.2")
    assert result.exit_code == 0, result.output
    assert f"deleted job {first}" in result.output
    ids = {j.id for j in clients.batch.list_jobs()}
    assert row["job"] in ids and first not in ids
