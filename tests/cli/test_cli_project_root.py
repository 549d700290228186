"""The project root: found by walking up to Pulumi.yaml or .bigcompute/; outside any project, commands exit 2
saying what they looked for and where, and create nothing; `.bigcompute/` ignores itself in git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from bigcompute.cli.main import cli
from bigcompute.project import NoProject, find_root, private_dir

WORKLOAD = """\
apiVersion: bigcompute/v1
kind: Workload
name: hello
pool: cpu
tasks:
  - id: t
    command: echo hi
"""


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_the_nearest_marker_wins_and_none_is_an_error(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: p\n")
    (tmp_path / "workloads" / "a" / "b").mkdir(parents=True)
    assert find_root(tmp_path / "workloads" / "a" / "b") == tmp_path.resolve()
    (tmp_path / "workloads" / ".bigcompute").mkdir()
    assert find_root(tmp_path / "workloads" / "a") == (tmp_path / "workloads").resolve()
    (tmp_path / "nowhere").mkdir()
    with pytest.raises(NoProject, match="looked for Pulumi.yaml or a .bigcompute/ folder in"):
        find_root(Path("/"))


@pytest.mark.parametrize("command", [["plan"], ["apply", "--wait"], ["status"], ["validate"], ["local", "status"],
                                     ["local", "up"], ["download", "hello"]])
def test_outside_any_project_commands_exit_2_and_create_nothing(tmp_path, monkeypatch, command):
    (tmp_path / "workloads").mkdir()
    (tmp_path / "workloads" / "hello.yaml").write_text(WORKLOAD)  # workloads, but no project marker
    monkeypatch.chdir(tmp_path)
    result = invoke(*command)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"no bigcompute project here: looked for Pulumi.yaml or a .bigcompute/ folder in {tmp_path.resolve()} " \
           "and each of its parents" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["workloads"]  # no .bigcompute, no out/


def test_validate_from_a_subfolder_checks_the_projects_workloads(tmp_path, monkeypatch):
    (tmp_path / "Pulumi.yaml").write_text("name: p\n")
    (tmp_path / "workloads" / "prog").mkdir(parents=True)
    (tmp_path / "workloads" / "hello.yaml").write_text(WORKLOAD.replace("echo hi", "echo hi\n    bogus: 1"))
    monkeypatch.chdir(tmp_path / "workloads" / "prog")
    result = invoke("validate")
    assert result.exit_code == 2
    # located in the real file, as seen from where the user stands: never a fake "workloads:1:1"
    assert "../hello.yaml:8:5: $.tasks[0].bogus: unknown key" in result.output and "workloads:1:1" not in result.output


def test_the_private_folder_is_never_committed(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "Pulumi.yaml").write_text("name: p\n")
    local = private_dir(tmp_path) / "local"
    local.mkdir()
    (local / "credentials.json").write_text('{"batchAccountKey": "c2VjcmV0"}')
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)  # the repository's .gitignore lists nothing
    staged = subprocess.run(["git", "diff", "--cached", "--name-only"], cwd=tmp_path, capture_output=True,
                            text=True, check=True).stdout.split()
    assert staged == ["Pulumi.yaml"]
    private_dir(tmp_path)  # idempotent: an edited .gitignore is kept
    assert (tmp_path / ".bigcompute" / ".gitignore").read_text().splitlines()[-1] == "*"
