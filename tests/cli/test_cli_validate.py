"""`bigcompute validate` and `expand` as a user runs them: full output, formats, exit codes."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from bigcompute.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
GOOD = "apiVersion: bigcompute/v1\nkind: Workload\nname: good\npool: cpu\ntasks:\n  - {id: a, command: x}\n"
BAD = "apiVersion: bigcompute/v1\nkind: Workload\nname: bad\npool: gpu\ntasks:\n  - {id: a, command: x, comand: y}\n"
STACK = """\
config:
  bigcompute:location: westeurope
  bigcompute:environment: test
  bigcompute:pools:
    - {name: cpu, vmSize: Standard_D2s_v5, image: ubuntu-24.04, scale: {fixed: {dedicated: 1}}}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "Pulumi.yaml").write_text("name: project\nruntime: python\n")
    (tmp_path / "workloads").mkdir()
    (tmp_path / "stacks").mkdir()
    (tmp_path / "workloads" / "good.yaml").write_text(GOOD)
    (tmp_path / "stacks" / "Pulumi.test.yaml").write_text(textwrap.dedent(STACK))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_valid_workloads_exit_zero(project):
    result = invoke("validate", "--stack", "test")
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"ok       {os.path.join('stacks', 'Pulumi.test.yaml')} (1 pools)\n"
        "ok       workloads/good.yaml (1 task, 0 input files)\n\n2 files checked: all valid\n")


def test_errors_of_every_file_are_reported_and_exit_two(project):
    (project / "workloads" / "bad.yaml").write_text(BAD)
    (project / "workloads" / "worse.yaml").write_text("name: [\n")
    result = invoke("validate", "workloads", "--stack", "test")
    assert result.exit_code == 2
    assert "invalid  workloads/bad.yaml: 1 error\n" in result.output
    assert "  workloads/bad.yaml:6:25: $.tasks[0].comand: unknown key 'comand'; did you mean 'command'?\n" \
        in result.output
    assert "workloads/worse.yaml:2:1: YAML syntax error" in result.output
    assert result.output.endswith("4 files checked: 2 invalid, 2 errors\n")


def test_unknown_pool_is_reported_once_the_schema_passes(project):
    (project / "workloads" / "bad.yaml").write_text(BAD.replace(", comand: y", ""))
    result = invoke("validate", "workloads/bad.yaml", "--stack", "test")
    assert result.exit_code == 2
    assert "  workloads/bad.yaml:4:7: $.pool: pool 'gpu' is not a pool of the stack (pools: cpu)\n" in result.output


def test_json_format_is_machine_readable(project):
    (project / "workloads" / "bad.yaml").write_text(BAD)
    result = invoke("validate", "workloads/bad.yaml", "--format", "json")
    assert result.exit_code == 2
    body = json.loads(result.output)
    assert body["valid"] is False
    [error] = body["files"][0]["errors"]
    assert error == {"file": "workloads/bad.yaml", "line": 6, "column": 25, "path": "$.tasks[0].comand",
                     "code": "unknown-key", "message": "unknown key 'comand'; did you mean 'command'?"}


def test_github_format_annotates_lines(project):
    (project / "workloads" / "bad.yaml").write_text(BAD)
    result = invoke("validate", "workloads/bad.yaml", "--format", "github")
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == (
        "::error file=workloads/bad.yaml,line=6,col=25,title=bigcompute unknown-key::"
        "$.tasks[0].comand: unknown key 'comand'; did you mean 'command'?")


def test_control_characters_in_file_names_are_warned_about_without_failing(project):
    (project / "workloads" / "clips").mkdir()
    (project / "workloads" / "clips" / "a\x1b[2Jb.mp4").write_bytes(b"")
    (project / "workloads" / "good.yaml").write_text(GOOD.replace("  - {id: a, command: x}", (
        "  - id: t-{index}\n    command: x {file}\n    foreach: {files: 'clips/*.mp4'}\ninputs: ['clips/*']")))
    warning = ("workloads/good.yaml:8:22: $.tasks[0].foreach.files: input file 'clips/a\\x1b[2Jb.mp4' has a "
               "control character or newline in its name; rename it")
    result = invoke("validate", "workloads/good.yaml")
    assert result.exit_code == 0, result.output
    assert result.output == ("ok       workloads/good.yaml (1 task, 1 input file)\n"
                             f"  warning: {warning}\n\n1 file checked: all valid\n")
    body = json.loads(invoke("validate", "workloads/good.yaml", "--format", "json").output)
    assert body["valid"] is True and [w["code"] for w in body["files"][0]["warnings"]] == ["input-name"]
    github = invoke("validate", "workloads/good.yaml", "--format", "github").output
    assert github.startswith("::warning file=workloads/good.yaml,line=8,col=22,title=bigcompute input-name::")


def test_broken_stack_file_is_reported_with_its_location(project):
    (project / "stacks" / "Pulumi.test.yaml").write_text(STACK.replace("ubuntu-24.04", "ubuntu-9"))
    result = invoke("validate", "--stack", "test")
    assert result.exit_code == 2
    assert "Pulumi.test.yaml:5:51: $.config.bigcompute:pools[0].image: unknown image alias 'ubuntu-9'" \
        in result.output


def test_no_workloads_is_an_error(project):
    result = invoke("validate", "stacks")
    assert result.exit_code == 2


def test_expand_prints_batch_task_json(project):
    (project / "workloads" / "sweep.yaml").write_text(
        GOOD.replace("name: good", "name: sweep").replace(
            "  - {id: a, command: x}", "  - id: t{i}\n    command: run {i}\n    sweep: {i: {start: 0, stop: 5}}"))
    result = invoke("expand", "workloads/sweep.yaml", "--limit", "2")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["taskCount"] == 5 and body["jobId"].startswith("sweep-")
    assert [t["id"] for t in body["tasks"]] == ["t0", "t1"]
    assert body["tasks"][1]["commandLine"] == "/bin/sh -c 'run 1'"


def test_repository_examples_validate_against_dev():
    result = CliRunner().invoke(cli, ["validate", str(ROOT / "workloads"), "--stack", str(ROOT / "stacks" /
                                                                                         "Pulumi.dev.yaml")])
    assert result.exit_code == 0, result.output
