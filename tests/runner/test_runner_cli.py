"""The runner's commands as a user runs them on the local target."""

from __future__ import annotations

import json
import uuid

import pytest
from azure.batch import models as m
from click.testing import CliRunner

from bigcompute.cli.main import cli
from tests.conftest import run_cli as run
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
    assert logs.exit_code == 0 and logs.stdout == ""  # which job, task and stream: said on stderr
    assert f"{name}: stderr of task t2 of job {row['job']}" in logs.stderr

    fetched = run("download", name, "--stack", "test", "--to", "fetched", "--all")
    assert fetched.exit_code == 0, fetched.output
    assert (repo / "fetched" / name / "t3" / "sq.txt").read_text() == "9\n"

    deleted = run("delete", name, "--stack", "test", "--yes")
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
    result = run("apply", "--stack", "test", "--wait", "--prune", "--yes", "--poll-interval", "0.2")
    assert result.exit_code == 0, result.output
    assert f"deleted job {first}" in result.output
    ids = {j.id for j in clients.batch.list_jobs()}
    assert row["job"] in ids and first not in ids


def test_pools_shows_sizes_and_no_drift(repo, local_files, local_target):
    result = run("pools", "--stack", "test", "--format", "json")
    assert result.exit_code == 0, result.output
    [pool] = json.loads(result.output)
    assert pool["name"] == "cpu" and pool["id"] == local_target.pool_ids["cpu"]
    assert pool["dedicated"] == [1, 1] and pool["allocation_state"] == "steady"
    assert pool["autoscale"] == "fixed" and pool["drift"] == []


def test_logs_follow_streams_until_the_task_completes(repo, local_files):
    name = setup(repo, "chatty", "tasks:\n  - id: talk\n    command: for i in 1 2 3; do echo line $i; sleep 0.3; done\n")
    assert run("apply", "--stack", "test").exit_code == 0
    result = run("logs", name, "talk", "--stack", "test", "--follow")
    assert result.exit_code == 0, result.output
    assert result.stdout == "line 1\nline 2\nline 3\n"


def test_a_pool_missing_on_the_target_stops_with_one_sentence(repo, local_files):
    stack = repo / "stacks" / "Pulumi.test.yaml"
    stack.write_text(stack.read_text() + "    - {name: gpu, vmSize: Standard_NC6s_v3, image: ubuntu-hpc-22.04-gpu, "
                                          "scale: {fixed: {dedicated: 1}}}\n")
    setup(repo, "gpuwork", "tasks:\n  - {id: a, command: nvidia-smi}\n".replace("cpu", "gpu"))
    path = next((repo / "workloads").glob("gpuwork-*.yaml"))
    path.write_text(path.read_text().replace("pool: cpu", "pool: gpu"))
    result = run("apply", str(path.relative_to(repo)), "--stack", "test")
    assert result.exit_code == 1
    assert "pool 'gpu' is not deployed on the local target of stack 'test' (deployed pools: cpu)" in result.output


def test_quota_headroom_is_checked_before_submitting(repo, local_files, clients):
    active = sum(str(getattr(j.state, "value", j.state)) == "active" for j in clients.batch.list_jobs())
    stack = repo / "stacks" / "Pulumi.test.yaml"
    stack.write_text(stack.read_text().replace("activeJobQuota: 500", f"activeJobQuota: {max(active, 1)}"))
    clients.batch.create_job(m.BatchJobCreateOptions(id=f"hog-{uuid.uuid4().hex[:6]}",
                                                     pool_info=m.BatchPoolInfo(pool_id="nowhere")))
    setup(repo, "crowded", "tasks:\n  - {id: a, command: x}\n")
    result = run("apply", "--stack", "test")
    assert result.exit_code == 1
    assert "more active jobs" in result.output and "raise the quota" in result.output


@pytest.mark.parametrize("fails_after", ["0", "1"])  # before the merge is added, and after
def test_a_merge_blocked_by_a_failed_task_ends_the_job_as_failed(repo, local_files, clients, fails_after):
    name = setup(repo, "blocked", f"""\
        tasks:
          - {{id: good, command: echo ok}}
          - {{id: slow, command: sleep 3}}
          - {{id: broken, command: sleep {fails_after}; exit 4}}
        merge: {{command: echo never}}
        """)
    result = run("apply", f"workloads/{name}.yaml", "--stack", "test", "--wait", "--poll-interval", "0.2")
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert f"{name}: 1 of 4 tasks failed, 1 stopped when the job ended, 1 never ran" in text, result.output
    assert "task broken: exit code 4" in text and "task slow" not in text
    assert "1 task(s) were stopped when the job ended: slow" in text
    assert (f"a failed task ended the job (its merge could never run): Batch terminated it (terminateReason "
            f"TaskFailed), so it no longer holds an active-job quota slot; `bigcompute retry {name}` reruns the "
            "tasks that did not succeed") in text
    [job] = [j for j in clients.batch.list_jobs() if j.id.startswith(f"{name}-")]
    assert (job.state, job.execution_info.termination_reason) == ("completed", "TaskFailed")
    assert job.task_failure_mode == "performexitoptionsjobaction"
    again = run("plan", "--stack", "test", "--format", "json")
    assert [w["status"] for w in json.loads(again.output)["workloads"] if w["workload"] == name] == ["unchanged"]


HOSTILE = r"printf 'before\033]0;pwned\007\033[2J\302\2332Jafter\n' >&2"


def test_task_stderr_cannot_drive_the_terminal(repo, local_files):
    """A task's stderr carries a window-title OSC, a clear-screen CSI and an 8-bit CSI: none reaches the user."""
    name = setup(repo, "hostile", f"tasks:\n  - id: evil\n    command: {HOSTILE}; exit 3\n")
    result = run("apply", f"workloads/{name}.yaml", "--stack", "test", "--wait", "--poll-interval", "0.2")
    assert result.exit_code == 1
    assert "      beforeafter\n" in result.output
    assert not any(c in result.output for c in "\x1b\x07\x9b")


def test_logs_cleans_task_output_on_a_terminal_and_keeps_bytes_in_a_pipe(repo, local_files):
    name = setup(repo, "hostile-logs", f"tasks:\n  - id: evil\n    command: {HOSTILE}\n")
    assert run("apply", "--stack", "test", "--wait", "--poll-interval", "0.2").exit_code == 0
    piped = run("logs", name, "evil", "--stack", "test", "--stderr")
    assert piped.stdout == "before\x1b]0;pwned\x07\x1b[2J\x9b2Jafter\n"
    on_tty = CliRunner().invoke(cli, ["logs", name, "evil", "--stack", "test", "--stderr"],
                                env={"TTY_COMPATIBLE": "1"}, catch_exceptions=False)
    assert on_tty.stdout == "beforeafter\n"


def test_logs_of_a_file_uses_the_workload_named_inside_it(repo, local_files):
    name = setup(repo, "named", "tasks:\n  - {id: hello, command: echo hi from the file}\n")
    renamed = repo / "workloads" / "some-other-stem.yaml"
    (repo / "workloads" / f"{name}.yaml").rename(renamed)
    assert run("apply", "--stack", "test", "--wait", "--poll-interval", "0.2").exit_code == 0
    result = run("logs", "workloads/some-other-stem.yaml", "hello", "--stack", "test")
    assert result.exit_code == 0, result.output
    assert result.stdout == "hi from the file\n"
