"""Inputs are the workload folder's own regular files: a symlink out of it (to the local target's key, to
`.git/config`, to a git-ignored file) or a FIFO is refused with the input named and where it points."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bigcompute.workload import WorkloadError, load_workload
from bigcompute.workload import inputs as inputs_module

HEAD = "apiVersion: bigcompute/v1\nkind: Workload\nname: demo\npool: cpu\n"


def refusal(write, inputs: str) -> str:
    with pytest.raises(WorkloadError) as info:
        load_workload(write(HEAD + f"inputs: {inputs}\ntasks:\n  - {{id: a, command: x}}\n"))
    [d] = info.value.diagnostics
    assert (d.code, d.line, d.column) == ("input", 5, 10), d
    return d.message


@pytest.fixture
def git_repo(repo: Path) -> Path:
    """`repo` made a real git work tree, with the local target's credentials and an ignored key file."""
    (repo / ".git").rmdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text(".bigcompute/\n*.key\n")
    (repo / ".bigcompute" / "local").mkdir(parents=True)
    (repo / ".bigcompute" / "local" / "credentials.json").write_text('{"storageAccountKey": "secret"}')
    (repo / "workloads" / "data" / "private.key").write_text("secret")
    return repo


def test_symlink_to_the_local_credentials_is_refused(write, git_repo):
    (git_repo / "workloads" / "data" / "creds.json").symlink_to("../../.bigcompute/local/credentials.json")
    message = refusal(write, "[data/creds.json]")
    assert "input 'data/creds.json' is a symlink to '.bigcompute/local/credentials.json', outside the " \
           "workload's folder 'workloads'" in message


def test_symlink_to_git_config_is_refused_through_a_folder_input(write, git_repo):
    (git_repo / "workloads" / "data" / "cfg").symlink_to("../../.git/config")
    assert "input 'data/cfg' is a symlink to '.git/config', outside the workload's folder" in refusal(write, "[data]")


def test_symlinked_folder_leaving_the_tree_is_refused(write, git_repo):
    (git_repo / "elsewhere").mkdir()
    (git_repo / "elsewhere" / "a.csv").write_text("x")
    (git_repo / "workloads" / "data" / "more").symlink_to("../../elsewhere", target_is_directory=True)
    assert "input 'data/more/a.csv' is a symlink to 'elsewhere/a.csv'" in refusal(write, "['data/more/*.csv']")


def test_git_folder_is_never_an_input_even_from_the_repository_root(git_repo):
    """A workload at the root: `.git/config` is inside its folder, and still refused."""
    (git_repo / "data").mkdir()
    (git_repo / "data" / "cfg").symlink_to("../.git/config")
    path = git_repo / "w.yaml"
    path.write_text(HEAD + "inputs: [data/cfg]\ntasks:\n  - {id: a, command: x}\n")
    with pytest.raises(WorkloadError) as info:
        load_workload(path)
    assert "input 'data/cfg' points into .git/ ('.git/config')" in info.value.diagnostics[0].message


def test_symlink_to_a_git_ignored_file_is_refused(write, git_repo):
    (git_repo / "workloads" / "data" / "k.txt").symlink_to("private.key")
    assert "input 'data/k.txt' is a symlink to 'workloads/data/private.key', which git ignores" in \
        refusal(write, "[data/k.txt]")


def test_symlinks_inside_the_tree_are_checked_with_one_git_call(write, git_repo, monkeypatch):
    for i in range(50):
        (git_repo / "workloads" / "data" / f"link{i}.csv").symlink_to(f"part{i % 3}.csv")
    calls = []
    real_run = subprocess.run
    monkeypatch.setattr(inputs_module.subprocess, "run", lambda *a, **k: calls.append(a) or real_run(*a, **k))
    loaded = load_workload(write(HEAD + "inputs: ['data/*.csv']\ntasks:\n  - {id: a, command: x}\n"))
    assert len(calls) == 1
    link = next(f for f in loaded.files if f.relpath == "data/link4.csv")
    # the file read and uploaded is the checked target, not the link (which could be swapped afterwards)
    assert link.path == (git_repo / "workloads" / "data" / "part1.csv").resolve()


@pytest.mark.parametrize("inputs", ["[data/pipe]", "['data/*']", "[data]"])
def test_fifo_input_is_refused(write, repo, inputs):
    os.mkfifo(repo / "workloads" / "data" / "pipe")
    assert "input 'data/pipe' is a FIFO (named pipe), not a regular file" in refusal(write, inputs)


def test_device_input_is_refused(write, repo):
    (repo / "workloads" / "data" / "zero").symlink_to("/dev/zero")
    # outside the repository first; a device inside it would be refused as not a regular file
    assert "resolves outside the repository" in refusal(write, "[data/zero]")


def test_symlinked_folder_inside_a_folder_input_is_named_not_left_out(write, repo):
    (repo / "workloads" / "more").mkdir()
    (repo / "workloads" / "more" / "b.csv").write_text("b")
    (repo / "workloads" / "data" / "more").symlink_to("../more", target_is_directory=True)
    assert "input 'data' holds 'data/more', a symlink to a folder, which a folder input does not follow" in \
        refusal(write, "[data]")
    # named on its own, it passes the tree rule: the link stays inside the workload's folder
    loaded = load_workload(write(HEAD + "inputs: ['data/more/*']\ntasks:\n  - {id: a, command: x}\n"))
    assert [f.relpath for f in loaded.files] == ["data/more/b.csv"]


def test_symlink_in_a_work_tree_where_git_cannot_run_is_refused(write, git_repo, monkeypatch, tmp_path):
    """No silent fallback: a real work tree whose ignore rules cannot be read refuses links, naming why."""
    (git_repo / "workloads" / "data" / "k.txt").symlink_to("private.key")
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    message = refusal(write, "[data/k.txt]")
    assert "input 'data/k.txt' is a symlink to 'workloads/data/private.key', and git cannot tell whether it " \
           "ignores that file (git could not run" in message


def test_symlink_in_a_broken_work_tree_is_refused_with_gits_reason(write, git_repo):
    (git_repo / "workloads" / "data" / "k.txt").symlink_to("part1.csv")
    (git_repo / ".git" / "config").write_text("[core\n")  # a config git refuses to parse
    message = refusal(write, "[data/k.txt]")
    assert "git cannot tell whether it ignores that file (fatal: bad config line 1" in message


def test_symlink_under_an_empty_git_folder_keeps_the_tree_rule_only(write, repo):
    """An empty `.git` folder marks a project root but is no repository: links inside the tree are fine."""
    (repo / "workloads" / "data" / "k.txt").symlink_to("part1.csv")
    loaded = load_workload(write(HEAD + "inputs: [data/k.txt]\ntasks:\n  - {id: a, command: x}\n"))
    assert [f.relpath for f in loaded.files] == ["data/k.txt"]
