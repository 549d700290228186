"""Blob inputs (`inputs: [{blob: PREFIX, to: DIR}]`, issue 16) end to end on the local target: they passed the
schema and `validate` but were dropped after loading, so tasks ran without them. Now every task downloads the
prefix's blobs (Batch keeps full names below `to`), an empty prefix is refused before anything is created,
and a changed blob under the prefix makes the next plan a new job."""

from __future__ import annotations

import uuid

import pytest

from bigcompute.runner.apply import apply_workload
from bigcompute.runner.download import download, write_manifest
from bigcompute.runner.monitor import watch
from bigcompute.runner.plan import make_plan
from bigcompute.runner.session import InvalidInput, load_inputs
from tests.conftest import run_cli as run
from tests.runner.conftest import write_workload

BLOBS = {"shared/market-data/x.csv": b"day,price\n1,100.5\n2,\xff101\n",
         "shared/market-data/2026/y.csv": b"day,price\n3,99\n"}


def _plan(clients):
    _, loaded = load_inputs(["workloads"], "test")
    [wp] = make_plan(clients, loaded, quota=50).workloads
    return wp


def test_blob_prefix_inputs_reach_every_task_at_their_full_names(repo, clients, tmp_path):
    inputs = clients.container("inputs")
    for name, data in BLOBS.items():
        inputs.upload_blob(name, data, overwrite=True)
    inputs.upload_blob("shared/market-data-old/z.csv", b"not under the prefix\n", overwrite=True)
    name = f"blobin-{uuid.uuid4().hex[:6]}"
    # `cat` of files under `data/shared/market-data/`: Batch keeps each blob's full name below filePath.
    write_workload(repo, name, """\
        inputs: [{blob: shared/market-data/, to: data}]
        tasks:
          - id: t{i}
            command: >-
              cat data/shared/market-data/x.csv data/shared/market-data/2026/y.csv > all{i}.csv &&
              find data -type f | sort > paths{i}.txt
            sweep: {i: {start: 0, stop: 2}}
            outputs: ['all{i}.csv', 'paths{i}.txt']
        merge:
          command: cat data/shared/market-data/x.csv > merged.csv
          outputs: [merged.csv]
        """)
    wp = _plan(clients)
    assert (len(wp.sync.blobs), wp.sync.blob_bytes) == (2, sum(map(len, BLOBS.values())))
    apply_workload(clients, wp)
    progress = watch(clients.batch, wp.job_id, total=3, interval=0.2, timeout=60)
    assert (progress.succeeded, progress.failed) == (3, 0)

    outputs = clients.container("outputs")
    download(outputs, wp.job_id, write_manifest(outputs, wp.job_id), tmp_path / "out")
    both = BLOBS["shared/market-data/x.csv"] + BLOBS["shared/market-data/2026/y.csv"]
    paths = b"data/shared/market-data/2026/y.csv\ndata/shared/market-data/x.csv\n"
    for i in range(2):
        assert (tmp_path / "out" / f"t{i}" / f"all{i}.csv").read_bytes() == both
        assert (tmp_path / "out" / f"t{i}" / f"paths{i}.txt").read_bytes() == paths
    assert (tmp_path / "out" / "merge" / "merged.csv").read_bytes() == BLOBS["shared/market-data/x.csv"]


def test_a_prefix_that_names_no_blob_is_refused_before_anything_is_created(repo, local_files, clients):
    name = f"blobempty-{uuid.uuid4().hex[:6]}"
    path = write_workload(repo, name, f"inputs:\n  - {{blob: shared/nothing-here-{name}/}}\n"
                                      "tasks: [{id: a, command: 'true'}]\n")
    jobs_before = {j.id for j in clients.batch.list_jobs()}
    blobs_before = {b.name for b in clients.container("inputs").list_blobs()}
    with pytest.raises(InvalidInput) as e:
        _plan(clients)
    [problem] = e.value.diagnostics
    assert (problem.file, problem.line, problem.column) == (str(path.relative_to(repo)), 6, 12)
    assert "matches no blob in the inputs container" in problem.message

    applied = run("apply", "--stack", "test", "--yes")
    assert applied.exit_code == 2, applied.output
    assert f"{path.relative_to(repo)}:6:12: $.inputs[0].blob: blob prefix 'shared/nothing-here-" in applied.output
    assert "nothing was changed" in applied.output
    assert {j.id for j in clients.batch.list_jobs()} == jobs_before
    assert {b.name for b in clients.container("inputs").list_blobs()} == blobs_before


def test_a_changed_blob_under_the_prefix_makes_a_new_planned_job(repo, local_files, clients):
    prefix = f"shared/prices-{uuid.uuid4().hex[:6]}/"
    inputs = clients.container("inputs")
    inputs.upload_blob(f"{prefix}a.csv", b"1\n", overwrite=True)
    name = f"blobchg-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, f"inputs: [{{blob: {prefix}}}]\ntasks: [{{id: a, command: 'true'}}]\n")
    first = _plan(clients)
    apply_workload(clients, first)
    assert _plan(clients).status == "unchanged"

    inputs.upload_blob(f"{prefix}a.csv", b"2\n", overwrite=True)  # same name and size, other bytes
    second = _plan(clients)
    assert second.status == "changed" and second.job_id != first.job_id
    assert second.supersedes == (first.job_id,)
    shown = run("plan", "--stack", "test", "--format", "markdown")
    assert f"| {name} | `{second.job_id}` | changed, supersedes {first.job_id} | 1 | " \
           "0 files, 0 bytes; blob inputs: 1 blobs, 2 bytes |" in shown.output
