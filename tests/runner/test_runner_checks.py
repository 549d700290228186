"""The workload checks as an attacker or a careless colleague meets them through the CLI on the local target:
inputs that are symlinks to the repository's secrets upload nothing; outputs that keep their folders all
arrive."""

from __future__ import annotations

import shutil
import subprocess
import uuid

from tests.conftest import run_cli as run
from tests.runner.conftest import write_workload


def test_symlinks_to_the_local_key_and_git_config_upload_nothing(repo, local_files, clients):
    """The attack of issue 13: links in a workload's data folder to `.bigcompute/local/credentials.json` and
    `.git/config`, in a real git repository. validate and apply refuse both, naming where they point."""
    shutil.rmtree(repo / ".git")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    data = repo / "workloads" / "data"
    data.mkdir()
    (data / "creds.json").symlink_to("../../.bigcompute/local/credentials.json")
    (data / "cfg").symlink_to("../../.git/config")
    name = f"exfil-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, "inputs: [data/creds.json, data/cfg]\n"
                               "tasks:\n  - {id: a, command: cat data/creds.json data/cfg}\n")
    shown = f"workloads/{name}.yaml"

    validated = run("validate", shown, "--stack", "test")
    assert validated.exit_code == 2, validated.output
    assert f"{shown}:5:10: $.inputs[0]: input 'data/creds.json' is a symlink to " \
           "'.bigcompute/local/credentials.json', outside the workload's folder 'workloads'" in validated.output
    assert f"{shown}:5:27: $.inputs[1]: input 'data/cfg' is a symlink to '.git/config'" in validated.output

    jobs = {j.id for j in clients.batch.list_jobs()}
    applied = run("apply", shown, "--stack", "test", "--wait")
    assert applied.exit_code == 2 and "nothing was changed" in applied.output
    assert not list(clients.container("inputs").list_blobs(name_starts_with=f"{name}/"))
    assert {j.id for j in clients.batch.list_jobs()} == jobs


def test_outputs_that_keep_their_folders_are_all_downloaded(repo, local_files):
    """`train/metrics.json` and `test/metrics.json` as two plain outputs are refused (both would land on
    `<task>/metrics.json`); the fix the message gives, one wildcard, brings both files back."""
    name = f"metrics-{uuid.uuid4().hex[:6]}"
    make = "mkdir -p train test; echo 0.9 > train/metrics.json; echo 0.7 > test/metrics.json"
    path = write_workload(repo, name, f"tasks:\n  - id: fit\n    command: {make}\n"
                                      "    outputs: [train/metrics.json, test/metrics.json]\n")
    refused = run("validate", str(path.relative_to(repo)), "--stack", "test")
    assert refused.exit_code == 2 and "use '*/metrics.json' instead of both" in refused.output

    path.write_text(path.read_text().replace("[train/metrics.json, test/metrics.json]", "['*/metrics.json']"))
    applied = run("apply", str(path.relative_to(repo)), "--stack", "test", "--wait", "--poll-interval", "0.2")
    assert applied.exit_code == 0, applied.output
    fetched = run("download", name, "--stack", "test", "--to", "fetched", "--all")
    assert fetched.exit_code == 0, fetched.output
    found = {p.relative_to(p.parents[1]).as_posix(): p.read_text() for p in (repo / "fetched").rglob("metrics.json")}
    assert found == {"train/metrics.json": "0.9\n", "test/metrics.json": "0.7\n"}
