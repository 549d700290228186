"""Shared inputs staged once per node (issue 18), end to end on the local target: the job preparation task
fetches the workload's input snapshot, tasks find every file at its relative path and carry only their own,
and a re-apply with one input changed uploads that one file."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from bigcompute.runner.apply import Hooks, apply_workload
from bigcompute.runner.jobs import job_model
from bigcompute.runner.monitor import watch
from bigcompute.runner.plan import make_plan
from bigcompute.runner.session import load_inputs
from bigcompute.workload import load_workload
from bigcompute.workload.wire import Staging, StorageContext
from tests.runner.conftest import write_workload

SHARED = """\
inputs: [data, prog/count.sh]
tasks:
  - id: t{i}
    command: sh prog/count.sh {i}
    sweep: {i: {start: 0, stop: 3}}
    outputs: ['out/*.txt']
"""
# What each task reports: how many regular files it sees under data/, and the bytes of all of them.
COUNT = "mkdir -p out; find data -type f | wc -l > out/n$1.txt; find data -type f | sort | xargs cat > out/all$1.txt\n"


def _files(repo: Path, count: int) -> bytes:
    """`count` small files under workloads/data/, in 20 folders; returns their bytes as the tasks cat them."""
    names = sorted(f"data/d{i % 20:02d}/f{i:05d}.txt" for i in range(count))
    for name in names:
        (repo / "workloads" / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / "workloads" / name).write_text(f"{name}\n")
    (repo / "workloads" / "prog").mkdir(exist_ok=True)
    (repo / "workloads" / "prog" / "count.sh").write_text(COUNT)
    return "".join(f"{n}\n" for n in names).encode()


def _plan(clients, name: str):
    _, loaded = load_inputs(["workloads"], "test")
    [wp] = [w for w in make_plan(clients, loaded, quota=50).workloads if w.name == name]
    return wp


def _run(clients, wp, total: int):
    uploaded: list[int] = []
    apply_workload(clients, wp, Hooks(uploaded=uploaded.append))
    progress = watch(clients.batch, wp.job_id, total=total, interval=0.2, timeout=120)
    assert (progress.succeeded, progress.failed) == (total, 0)
    return uploaded


def _task_outputs(clients, job_id: str, task: str, i: int) -> tuple[int, bytes]:
    outputs = clients.container("outputs")
    n = int(outputs.download_blob(f"{job_id}/{task}/n{i}.txt").readall())
    return n, outputs.download_blob(f"{job_id}/{task}/all{i}.txt").readall()


def test_a_thousand_shared_inputs_are_staged_once_and_tasks_stay_small(repo, clients):
    """1,000 files keep the suite fast: the emulator fetches a container prefix one blob at a time (~30 ms
    each under load); bench_staging stages 2,000 for 200 tasks."""
    expected = _files(repo, 1000)
    name = f"staged-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, SHARED)
    wp = _plan(clients, name)
    assert len(wp.sync.missing) == 1001 and not wp.sync.copies
    uploaded = _run(clients, wp, total=3)
    assert len(uploaded) == 1001
    for i in range(3):
        assert _task_outputs(clients, wp.job_id, f"t{i}", i) == (1000, expected)
    # Each task carries no input: 1,000 files cost it nothing; the preparation task names one prefix.
    for task in clients.batch.list_tasks(wp.job_id):
        body = task.as_dict()
        assert "resourceFiles" not in body and len(json.dumps(body)) < 4096
    prep = clients.batch.get_job(wp.job_id).job_preparation_task
    [snapshot] = prep.resource_files
    assert snapshot.blob_prefix == wp.sync.stage.prefix and snapshot.storage_container_url == clients.target.inputs_url
    # Once per node: the local pool's nodes each ran the preparation task once, whatever the task count.
    statuses = list(clients.batch.list_job_preparation_and_release_task_status(wp.job_id))
    assert statuses and all(s.job_preparation_task_execution_info.result == "success" for s in statuses)
    assert all(s.job_preparation_task_execution_info.retry_count == 0 for s in statuses)


def test_reapply_with_one_input_changed_uploads_that_file_alone(repo, clients):
    _files(repo, 200)
    name = f"restaged-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, SHARED)
    first = _plan(clients, name)
    _run(clients, first, total=3)
    assert _plan(clients, name).status == "unchanged"  # a re-apply with nothing changed is a no-op

    changed = repo / "workloads" / "data" / "d07" / "f00007.txt"
    changed.write_text("changed\n")
    second = _plan(clients, name)
    assert second.status == "changed" and second.job_id != first.job_id
    assert [f.relpath for f in second.sync.missing] == ["data/d07/f00007.txt"]
    assert len(second.sync.copies) == 200  # the other 199 inputs and the script: copied within storage
    uploaded = _run(clients, second, total=3)
    assert uploaded == [len("changed\n")]
    n, data = _task_outputs(clients, second.job_id, "t0", 0)
    assert n == 200 and b"changed\n" in data and b"data/d07/f00007.txt\n" not in data


PER_FILE = """\
inputs: [parts/*.csv, prog/sum.sh]
tasks:
  - id: 'p-{stem}'
    command: sh prog/sum.sh {file} {stem}
    foreach: {files: 'parts/*.csv'}
    outputs: ['out/*.txt']
"""


def test_per_file_inputs_stay_with_their_task(repo, clients):
    (repo / "workloads" / "parts").mkdir()
    for i in range(4):
        (repo / "workloads" / "parts" / f"p{i}.csv").write_text(f"{i}\n{i * 10}\n")
    (repo / "workloads" / "prog").mkdir()
    (repo / "workloads" / "prog" / "sum.sh").write_text(
        "mkdir -p out; awk '{s+=$1} END {print s}' $1 > out/$2.txt; ls parts > out/$2-seen.txt\n")
    name = f"perfile-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, PER_FILE)
    wp = _plan(clients, name)
    assert wp.sync.stage.shared == ("prog/sum.sh",)
    _run(clients, wp, total=4)
    outputs = clients.container("outputs")
    for i in range(4):
        task = clients.batch.get_task(wp.job_id, f"p-p{i}")
        assert [r.file_path for r in task.resource_files] == [f"parts/p{i}.csv"]  # its own file, no other
        assert outputs.download_blob(f"{wp.job_id}/p-p{i}/p{i}.txt").readall() == f"{i * 11}\n".encode()
        assert outputs.download_blob(f"{wp.job_id}/p-p{i}/p{i}-seen.txt").readall() == f"p{i}.csv\n".encode()


CTX = StorageContext("https://acct.blob.core.windows.net/inputs", "https://acct.blob.core.windows.net/outputs", "/id")


def test_staging_and_the_workloads_prepare_command_are_one_preparation_task(repo):
    """Batch runs one preparation task per job: the staging first, then the workload's own command, elevated
    when it asks; Batch's defaults that staging relies on are spelled out."""
    (repo / "workloads" / "prog").mkdir()
    (repo / "workloads" / "prog" / "run.sh").write_text("echo hi\n")
    path = write_workload(repo, "prep", "inputs: [prog/run.sh]\nprepare: {command: apt-get install -y jq, "
                                        "elevated: true}\ntasks: [{id: a, command: sh prog/run.sh}]\n")
    wl = load_workload(path).workload
    stage = Staging.of(wl, {"prog/run.sh": "0" * 64})
    prep = job_model(wl, "prep-1", "cpu", "0" * 64, "test", stage=stage, ctx=CTX).job_preparation_task
    assert prep.command_line.startswith("/bin/sh -c '( rm -f ") and prep.command_line.endswith("; apt-get install -y jq'")
    assert prep.wait_for_success is True and prep.rerun_on_node_reboot_after_success is True
    assert prep.user_identity.auto_user.elevation_level == "admin"
    assert [r.blob_prefix for r in prep.resource_files] == [stage.prefix]
    bare = write_workload(repo, "bare", "tasks: [{id: a, command: 'true'}]\n")
    none = load_workload(bare).workload
    assert job_model(none, "bare-1", "cpu", "0" * 64, "test", stage=Staging.of(none, {}), ctx=CTX
                     ).job_preparation_task is None
