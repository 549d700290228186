"""Scripting on the local target: `--format json` in one shape (errors included), `logs` saying what it shows and
`--tail N`, workload names wherever a file is taken, `--max-tasks` on the commands that expand."""

from __future__ import annotations

import json
import uuid

from tests.conftest import run_cli as run
from tests.runner.conftest import write_workload

WAIT = ("--stack", "test", "--wait", "--poll-interval", "0.2")
LINES = """\
tasks:
  - id: t{i}
    command: for n in 1 2 3 4 5; do echo line $n of {i}; done; echo oops >&2; exit {i}
    sweep: {i: {start: 0, stop: 2}}
"""


def test_logs_says_what_it_shows_tails_and_speaks_json(repo, local_files):
    name = f"lines-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, LINES)
    applied = run("apply", *WAIT, "--format", "json")
    assert applied.exit_code == 1, applied.output  # t1 exits 1
    body = json.loads(applied.stdout)
    assert body["exit_code"] == 1 and body["submitted"][0]["workload"] == name
    [job] = body["watch"]["jobs"]
    assert job["succeeded"] is False and [(f["id"], f["exit_code"], f["stderr_tail"]) for f in job["failed"]] == [
        ("t1", 1, "oops\n")]

    shown = run("logs", name, "t0", "--stack", "test", "--tail", "2")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == "line 4 of 0\nline 5 of 0\n"  # only the task's text on stdout
    assert f"{name}: stdout of task t0 of job {job['job']}, last 2 line(s)" in shown.stderr

    default = run("logs", name, "--stack", "test", "--stderr", "--format", "json")  # the first failed task
    assert default.exit_code == 0, default.output
    assert json.loads(default.stdout) == {"workload": name, "job": job["job"], "task": "t1", "stream": "stderr",
                                          "text": "oops\n"}


def test_workload_names_work_where_files_do(repo, local_files):
    name = f"named-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, "tasks:\n  - {id: a, command: echo hi}\n")
    write_workload(repo, f"other-{uuid.uuid4().hex[:6]}", "tasks:\n  - {id: b, command: echo hi}\n")
    planned = json.loads(run("plan", name, "--stack", "test", "--format", "json").stdout)
    assert [w["workload"] for w in planned["workloads"]] == [name]  # the name stands for its file alone
    assert run("apply", name, *WAIT).exit_code == 0
    [row] = json.loads(run("status", name, "--stack", "test", "--format", "json").stdout)
    assert (row["workload"], row["state"]) == (name, "completed")
    expanded = run("expand", name)
    assert expanded.exit_code == 0 and json.loads(expanded.stdout)["tasks"][0]["id"] == "a"
    assert run("retry", name, "--stack", "test").exit_code == 0


def test_max_tasks_refuses_before_anything_happens(repo, local_files):
    name = f"wide-{uuid.uuid4().hex[:6]}"
    path = write_workload(repo, name, "tasks:\n  - id: t{i}\n    command: exit 0\n    sweep: {i: {start: 0, stop: 5}}\n")
    for command in (["plan"], ["apply"], ["status"], ["tasks", name], ["expand", name]):
        result = run(*command, "--max-tasks", "3", *(["--stack", "test"] if command[0] != "expand" else []))
        assert result.exit_code == 2, (command, result.output)
        assert str(path.name) in result.output and "5 tasks" in result.output, result.output
    assert json.loads(run("plan", "--stack", "test", "--format", "json").stdout)["workloads"][0]["status"] == "new"
