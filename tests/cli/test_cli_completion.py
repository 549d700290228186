"""Shell completion (click's, as `_BIGCOMPUTE_COMPLETE=bash_source bigcompute` installs it) of commands, workload
names and task ids, offline; and the environment variables every option reads, shown in `--help`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bigcompute.cli.main import COMMANDS, cli
from tests.conftest import run_cli as run

SWEEP = """\
apiVersion: bigcompute/v1
kind: Workload
name: {name}
pool: cpu
tasks:
  - id: frame-{{i}}
    command: echo {{i}}
    sweep: {{i: {{start: 0, stop: 12}}}}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: python\n")
    (tmp_path / "workloads").mkdir()
    for name in ("render", "reduce"):
        (tmp_path / "workloads" / f"{name}-file.yaml").write_text(SWEEP.format(name=name))
    (tmp_path / "workloads" / "broken.yaml").write_text("name: [unclosed\n")  # skipped, not fatal
    monkeypatch.chdir(tmp_path / "workloads")  # anywhere in the project
    return tmp_path


def complete(line: str) -> list[str]:
    """What bash completion offers for `line` (the word being completed is its last, maybe empty)."""
    words = line.split(" ")
    result = CliRunner().invoke(cli, [], prog_name="bigcompute", env={
        "_BIGCOMPUTE_COMPLETE": "bash_complete", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)})
    assert result.exit_code == 0, result.output
    return [line for line in result.stdout.splitlines() if line]


def test_commands_workload_names_and_task_ids_complete(project):
    assert {"plain,tasks", "plain,history", "plain,report"} <= set(complete("bigcompute "))
    assert complete("bigcompute logs re") == ["plain,reduce", "plain,render", "file,re"]
    assert complete("bigcompute tasks ren") == ["plain,render", "file,ren"]
    assert complete("bigcompute logs render frame-1") == ["plain,frame-1", "plain,frame-10", "plain,frame-11"]
    assert complete("bigcompute retry render-file.yaml --task frame-") == [f"plain,frame-{i}" for i in range(12)]
    assert complete("bigcompute logs nosuch ") == []


def test_completion_outside_a_project_offers_files_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert complete("bigcompute logs x") == ["file,x"]


def commands_with(option: str) -> list[str]:
    found = []
    for name in COMMANDS:
        command = cli.get_command(None, name)
        if any(option in p.opts for p in command.params):
            found.append(name)
    return found


def test_every_option_that_reads_the_environment_says_so_in_help():
    expanding = commands_with("--max-tasks")
    assert set(expanding) >= {"validate", "expand", "plan", "apply", "status", "logs", "download", "delete", "retry",
                              "tasks", "history", "report"}
    for name in commands_with("--stack") + expanding:
        shown = " ".join(run(name, "--help").output.split())
        options = cli.get_command(None, name).params
        for envvar in {p.envvar for p in options if isinstance(p.envvar, str)}:
            assert f"env var: {envvar}" in shown, (name, envvar)
    top = run("--help").output
    assert set(re.findall(r"BIGCOMPUTE_[A-Z_]+", top)) >= {"BIGCOMPUTE_STACK", "BIGCOMPUTE_TARGET",
                                                            "BIGCOMPUTE_MAX_TASKS", "BIGCOMPUTE_WEBHOOK"}
    assert "_BIGCOMPUTE_COMPLETE=bash_source bigcompute" in top
