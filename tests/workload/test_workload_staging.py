"""Inputs shared by all tasks staged once per node (issue 18): what is in the snapshot, its content address,
and the size of a task whatever the number of inputs."""

from __future__ import annotations

import json

from bigcompute.workload import iter_tasks, load_workload
from bigcompute.workload.build import build_workload
from bigcompute.workload.inputs import InputFile, file_digest
from bigcompute.workload.wire import Staging, StorageContext, task_body

HEAD = "apiVersion: bigcompute/v1\nkind: Workload\nname: demo\npool: cpu\n"
CTX = StorageContext("https://acct.blob.core.windows.net/inputs", "https://acct.blob.core.windows.net/outputs",
                     "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/p")


def test_a_task_stays_under_4_kb_with_ten_thousand_shared_inputs(tmp_path):
    """The inputs as the loader returns them (10,000 files in 50 folders); bench_staging loads them from disk."""
    data = {"apiVersion": "bigcompute/v1", "kind": "Workload", "name": "demo", "pool": "cpu", "inputs": ["many"],
            "tasks": [{"id": "t{i}", "command": "run {i}", "sweep": {"i": {"start": 0, "stop": 1000}},
                       "outputs": ["out/*"]}]}
    wl = build_workload(data, tmp_path / "w.yaml")
    files = [InputFile(f"many/d{i % 50:02d}/f{i:05d}.txt", tmp_path / f"f{i}", 2) for i in range(10_000)]
    digests = {f.relpath: "0" * 64 for f in files}
    stage = Staging.of(wl, digests, files)
    sizes = [len(json.dumps(task_body(t, wl, "demo-12345678", CTX, digests, stage=stage)))
             for t in iter_tasks(wl, files)]
    assert len(sizes) == 1000 and max(sizes) <= 4096
    assert len(stage.shared) == 10_000 and len(stage.prep_resources(CTX)) == 1  # one prefix for all of them


def test_the_snapshot_is_addressed_by_its_content_and_holds_only_shared_files(write, repo):
    path = write(HEAD + "inputs: [data/*.csv, prog/run.py]\ntasks:\n"
                        "  - {id: 'p-{stem}', command: run, foreach: {files: 'data/*.csv'}}\n")

    def staged() -> Staging:
        lw = load_workload(path)
        return Staging.of(lw.workload, {f.relpath: file_digest(f.path) for f in lw.files}, lw.files)

    first = staged()
    assert first.shared == ("prog/run.py",) and first.owned == {"data/part0.csv", "data/part1.csv", "data/part2.csv"}
    (repo / "workloads" / "data" / "part1.csv").write_text("changed\n")
    assert staged().prefix == first.prefix  # a task's own file is not in the snapshot
    (repo / "workloads" / "prog" / "run.py").write_text("print('changed')\n")
    assert staged().prefix != first.prefix and staged().prefix.startswith("demo/")


def test_a_workload_without_shared_inputs_stages_nothing(write):
    lw = load_workload(write(HEAD + "inputs: [data/*.csv]\ntasks:\n"
                                    "  - {id: 'p-{stem}', command: run, foreach: {files: 'data/*.csv'}}\n"))
    digests = {f.relpath: "0" * 64 for f in lw.files}
    stage = Staging.of(lw.workload, digests, lw.files)
    assert not stage.active and stage.prefix is None and stage.prep_resources(CTX) == []
    body = task_body(next(iter_tasks(lw.workload, lw.files)), lw.workload, "j", CTX, digests, stage=stage)
    assert "AZ_BATCH_JOB_PREP_WORKING_DIR" not in body["commandLine"]
    assert [r["filePath"] for r in body["resourceFiles"]] == ["data/part0.csv"]
