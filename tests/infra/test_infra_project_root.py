"""`infra plan` and `infra diff` review the project the user stands in, from any of its folders, and refuse to
run outside a project rather than review this package's own checkout (which would answer "no changes")."""

from __future__ import annotations

import subprocess

from click.testing import CliRunner

from bigcompute.cli.infra import infra_group


def infra(*args: str):
    return CliRunner().invoke(infra_group, list(args))


def test_plan_from_a_subfolder_plans_that_repository(project, stack_text, fixed_pool, monkeypatch):
    folder = project(stack_text(pools=fixed_pool(name="elsewhere", dedicated=3)))
    (folder / "workloads" / "deep").mkdir(parents=True)
    monkeypatch.chdir(folder / "workloads" / "deep")
    result = infra("plan", "--stack", "test", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "pool-elsewhere-pool" in result.stdout  # the pool of *that* repository's stack, not this checkout's


def test_plan_outside_any_project_exits_2_naming_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = infra("plan", "--stack", "dev")  # this checkout has a dev stack: it must not be planned
    assert result.exit_code == 2
    assert result.stdout == ""
    assert (f"infra plan: no Pulumi project here: looked for Pulumi.yaml and __main__.py in {tmp_path.resolve()} "
            "and each of its parents") in " ".join(result.stderr.split())


def test_diff_in_another_repository_without_a_program_exits_2(tmp_path, monkeypatch):
    """A repository holding workloads and a stack but no Pulumi program: nothing to diff, and said so."""
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text("config: {}\n")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)
    result = infra("diff", "--stack", "dev", "--base", "HEAD")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"infra diff: no Pulumi project here: looked for Pulumi.yaml and __main__.py in {tmp_path.resolve()}" \
        in " ".join(result.stderr.split())
