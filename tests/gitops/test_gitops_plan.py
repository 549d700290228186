"""The pull-request workflow's summary of what the workloads become: `bigcompute plan --format markdown`
on the local target, appended to $GITHUB_STEP_SUMMARY as a table GitHub renders."""

from __future__ import annotations

import json
import uuid

from tests.conftest import run_cli as run
from tests.runner.conftest import write_workload

SWEEP = """\
inputs: [prog/*.sh]
tasks:
  - id: t{i}
    command: sh prog/square.sh {i}
    sweep: {i: {start: 0, stop: 4}}
"""


def test_plan_markdown_is_the_summary_table(repo, local_files):
    name = f"summary-{uuid.uuid4().hex[:6]}"  # the local target is shared by the session's tests
    (repo / "workloads" / "prog").mkdir()
    script = repo / "workloads" / "prog" / "square.sh"
    script.write_text("echo $(( $1 * $1 ))\n")
    write_workload(repo, name, SWEEP)
    job = json.loads(run("plan", "--stack", "test", "--format", "json").stdout)["workloads"][0]["job"]

    result = run("plan", "--stack", "test", "--format", "markdown")

    assert result.exit_code == 0, result.output
    header, blank, *lines = result.stdout.splitlines()
    # where it runs first: a reviewer reads which target, stack and accounts the plan was made against
    assert header.startswith("plan: target local, stack test, Batch account ") and blank == ""
    assert lines[:3] == [
        "| workload | job | status | tasks | inputs to upload |",
        "|---|---|---|---:|---|",
        f"| {name} | `{job}` | new job | 4 | 1 files, {script.stat().st_size:,} bytes |",
    ]
    assert lines[3] == ""
    assert lines[4].startswith("Active jobs: ") and lines[4].endswith("of a quota of 500; this plan adds 1.")


def test_plan_markdown_of_an_invalid_workload_exits_2_and_changes_nothing(repo, local_files):
    write_workload(repo, f"bad-{uuid.uuid4().hex[:6]}", "tasks:\n  - {id: a, comand: x}\n")
    result = run("plan", "--stack", "test", "--format", "markdown")
    assert result.exit_code == 2
    assert "| workload |" not in result.stdout
    assert "unknown key 'comand'" in result.output
