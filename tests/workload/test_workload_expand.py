"""Task factories, placeholders, laziness, and the Batch wire shape of expanded tasks."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from itertools import islice
from pathlib import Path

import pytest
from azure.batch import models as batch
from azure.storage.blob import BlobClient

from bigcompute.workload import count_tasks, iter_tasks, load_workload
from bigcompute.workload.build import build_workload
from bigcompute.workload.inputs import file_digest
from bigcompute.workload.wire import (
    CHECKSUMS_PATH,
    InputChecksums,
    Staging,
    StorageContext,
    job_id,
    merge_dependencies,
    shell_command,
    spec_hash,
    task_body,
)

HEAD = "apiVersion: bigcompute/v1\nkind: Workload\nname: demo\npool: cpu\n"
CTX = StorageContext("https://acct.blob.core.windows.net/inputs", "https://acct.blob.core.windows.net/outputs",
                     "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/p")


def tasks_of(write, text):
    lw = load_workload(write(HEAD + text))
    return lw, list(iter_tasks(lw.workload, lw.files))


def test_sweep_is_a_cartesian_product_with_format_specs(write):
    _, tasks = tasks_of(write, "tasks:\n  - id: s{seed:03d}-{m}\n    command: run --seed {seed} --m {m} -i{index}\n"
                                "    sweep:\n      seed: {start: 0, stop: 4, step: 2}\n      m: {values: [x, y]}\n")
    assert [t.id for t in tasks] == ["s000-x", "s000-y", "s002-x", "s002-y"]
    assert tasks[3].command == "run --seed 2 --m y -i3"


def test_float_ranges_do_not_accumulate_error(write):
    _, tasks = tasks_of(write, "tasks:\n  - id: t{index}\n    command: run {a} {b:.2f}\n    sweep:\n"
                               "      a: {start: 0, stop: 1, step: 0.1}\n      b: {from: 0, to: 1, count: 3}\n")
    assert len(tasks) == 30
    assert tasks[-1].command == "run 0.9 1.00"
    assert tasks[1].command == "run 0.0 0.50"


def test_foreach_gives_each_task_its_file_plus_the_shared_inputs(write):
    lw, tasks = tasks_of(write, "inputs: [data/*.csv, prog/run.py]\ntasks:\n  - id: p-{stem}\n"
                                "    command: python3 prog/run.py {file} {name} {ext} {dir}\n"
                                "    foreach: {files: 'data/*.csv'}\n")
    assert [t.id for t in tasks] == ["p-part0", "p-part1", "p-part2"]
    assert tasks[1].command == "python3 prog/run.py data/part1.csv part1.csv csv data"
    assert [f.relpath for f in tasks[1].files] == ["data/part1.csv", "prog/run.py"]
    assert count_tasks(lw.workload, lw.files) == 3


def test_merge_runs_last_with_every_task_as_dependency(write):
    lw, tasks = tasks_of(write, "tasks:\n  - id: '{index}'\n    command: x\n    sweep: {i: {start: 0, stop: 250}}\n"
                                "merge: {command: combine}\n")
    assert tasks[-1].is_merge and tasks[-1].id == "merge"
    ids = [t.id for t in tasks if not t.is_merge]
    assert ids == [str(i) for i in range(250)]
    # the merge's dependsOn as Batch gets it: one id range; the resumed-apply case is in tests/runner/test_runner_submit.py
    model = task_body(tasks[-1], lw.workload, "demo-12345678", CTX, {}, merge_dependencies(ids))
    assert model["dependsOn"] == {"taskIdRanges": [{"start": 0, "end": 249}]}
    assert {"name": "BIGCOMPUTE_TASK_OUTPUTS", "value": "outputs/demo-12345678"} in model["environmentSettings"]
    assert model["resourceFiles"][-1]["blobPrefix"] == "demo-12345678/"


def test_string_ids_depend_by_list():
    assert merge_dependencies(["a", "007"]) == {"taskIds": ["a", "007"]}
    assert merge_dependencies(["1", "2", "5"])["taskIdRanges"] == [
        {"start": 1, "end": 2}, {"start": 5, "end": 5}]


def test_expansion_is_lazy_for_a_billion_task_sweep(tmp_path: Path):
    data = {"apiVersion": "bigcompute/v1", "kind": "Workload", "name": "huge", "pool": "cpu",
            "tasks": [{"id": "t{a}-{b}-{c}", "command": "x",
                       "sweep": {k: {"start": 0, "stop": 1000} for k in "abc"}}]}
    wl = build_workload(data, tmp_path / "huge.yaml")
    assert count_tasks(wl, []) == 10**9
    assert [t.id for t in islice(iter_tasks(wl, []), 2)] == ["t0-0-0", "t0-0-1"]


def test_wire_shape_uses_identity_and_never_a_sas(write):
    lw, tasks = tasks_of(write, "inputs: [prog/run.py]\ndefaults: {retries: 2, timeout: PT30M}\ntasks:\n"
                                "  - id: a\n    command: python3 prog/run.py > out/a.txt\n"
                                "    outputs: [out/a.txt, {pattern: 'logs/**', when: failure}]\n"
                                "    settings: {retries: 0, elevated: true, slots: 2}\n    env: {MODE: fast}\n")
    digests = {f.relpath: file_digest(f.path) for f in lw.files}
    job = job_id(lw.workload, digests)
    stage = Staging.of(lw.workload, digests, lw.files)
    body = task_body(tasks[0], lw.workload, job, CTX, digests, stage=stage)
    checksums = InputChecksums.of(digests)
    # A shared input is staged per node: the task links the staged snapshot before its command, carries none.
    prefix = f"demo/{checksums.digest[:32]}/"
    assert body["commandLine"] == shell_command(stage.task_command("python3 prog/run.py > out/a.txt", ()))
    assert f'cp -rlf "$AZ_BATCH_JOB_PREP_WORKING_DIR"/stage/{prefix}. .' in body["commandLine"]
    assert body["commandLine"].endswith("; python3 prog/run.py > out/a.txt'")
    assert "resourceFiles" not in body
    assert stage.prep_resources(CTX) == [{"storageContainerUrl": CTX.inputs_url, "blobPrefix": prefix,
                                          "filePath": "stage", "identityReference": {
                                              "resourceId": CTX.identity_resource_id}}]
    assert stage.marker == f"{prefix}{CHECKSUMS_PATH}" and stage.shared == ("prog/run.py",)
    outputs = {o["filePattern"]: o for o in body["outputFiles"]}
    assert outputs["out/a.txt"]["destination"]["container"]["path"] == f"{job}/a/a.txt"
    assert outputs["logs/**"]["destination"]["container"]["path"] == f"{job}/a"
    assert outputs["logs/**"]["uploadOptions"] == {"uploadCondition": "taskfailure"}
    assert outputs["../std*.txt"]["uploadOptions"] == {"uploadCondition": "taskcompletion"}
    assert body["constraints"] == {"maxWallClockTime": "PT30M", "maxTaskRetryCount": 0}
    assert body["userIdentity"] == {"autoUser": {"scope": "task", "elevationLevel": "admin"}}
    assert body["requiredSlots"] == 2
    assert body["environmentSettings"] == [{"name": "MODE", "value": "fast"}, {"name": "BIGCOMPUTE_INDEX", "value": "0"}]
    assert "sig=" not in json.dumps(body) and "?" not in json.dumps(body)


def test_blob_inputs_are_staged_once_per_node_and_tasks_carry_only_their_own_file(write):
    """`{blob: PREFIX, to: DIR}` reaches every task through the job preparation task's container resource file,
    with the pool's identity and no SAS; a foreach task carries its own file, no other task carries any."""
    lw, tasks = tasks_of(write, "inputs: [data/*.csv, prog/run.py, {blob: shared/market-data/, to: data}, "
                                "{blob: refs/x.bin}]\n"
                                "tasks:\n  - {id: one, command: run}\n"
                                "  - {id: 's{i}', command: run, sweep: {i: {start: 0, stop: 2}}}\n"
                                "  - {id: 'f-{stem}', command: run, foreach: {files: 'data/*.csv'}}\n"
                                "merge: {command: combine}\n")
    identity = {"resourceId": CTX.identity_resource_id}
    digests = {f.relpath: "0" * 64 for f in lw.files}
    stage = Staging.of(lw.workload, digests, lw.files)
    root = f"stage/{stage.prefix}".rstrip("/")
    market = {"storageContainerUrl": CTX.inputs_url, "blobPrefix": "shared/market-data/", "filePath": f"{root}/data",
              "identityReference": identity}
    refs = {"storageContainerUrl": CTX.inputs_url, "blobPrefix": "refs/x.bin", "filePath": root,
            "identityReference": identity}
    assert stage.prep_resources(CTX)[1:] == [market, refs] and stage.shared == ("prog/run.py",)
    kinds = set()
    for task in tasks:
        body = task_body(task, lw.workload, "demo-12345678", CTX, digests, {"taskIds": ["one"]}, stage)
        mine = [r["filePath"] for r in body.get("resourceFiles", []) if r.get("httpUrl")]
        # the sweep, the plain task and the merge receive every csv (as before), but carry them themselves
        assert mine == ([task.files[0].relpath] if task.group == 2 else [f"data/part{i}.csv" for i in range(3)])
        assert stage.own_files(task) == Staging.of(lw.workload, digests).own_files(task)  # fast path = filter
        assert body["commandLine"].count(f"cp -rlf \"$AZ_BATCH_JOB_PREP_WORKING_DIR\"/{root}/. .") == 1
        batch.BatchTaskCreateOptions(body)  # the SDK's model reads it
        assert "sig=" not in json.dumps(body) and "?" not in json.dumps(body)
        kinds.add(task.group)
    assert kinds == {0, 1, 2, -1} and len(tasks) == 1 + 2 + 3 + 1


def test_blob_listing_is_part_of_the_job_identity(write):
    lw, _ = tasks_of(write, "inputs: [{blob: shared/}]\ntasks:\n  - {id: a, command: x}\n")
    first = spec_hash(lw.workload, {}, {"shared/a.csv": "md5:00:3"})
    assert first != spec_hash(lw.workload, {}, {"shared/a.csv": "md5:01:3"})
    assert first != spec_hash(lw.workload, {}, {"shared/a.csv": "md5:00:3", "shared/b.csv": "md5:00:3"})
    # No blob inputs: the hash earlier releases computed, so existing jobs keep their ids.
    before = json.dumps({"spec": lw.workload.raw, "inputs": []}, sort_keys=True, separators=(",", ":"), default=str)
    assert spec_hash(lw.workload, {}, {}) == spec_hash(lw.workload, {}) == hashlib.sha256(before.encode()).hexdigest()


def test_task_body_is_the_sdk_wire_shape(write):
    """The SDK's own model reads every field of the body back: the JSON is Batch's, not a look-alike."""
    lw, tasks = tasks_of(write, "inputs: [prog/run.py]\ntasks:\n  - id: a\n    command: run\n"
                                "    outputs: [out/x.txt]\n    dependsOn: [b]\n"
                                "    settings: {timeout: PT1H30M, retention: P1D, retries: 3, elevated: true}\n"
                                "  - {id: b, command: run}\napplications: [{id: blender, version: '3.4'}]\n")
    digests = {f.relpath: file_digest(f.path) for f in lw.files}
    model = batch.BatchTaskCreateOptions(task_body(tasks[0], lw.workload, "j", CTX, digests))
    assert model.constraints.max_wall_clock_time == timedelta(hours=1, minutes=30)
    assert model.constraints.retention_time == timedelta(days=1) and model.constraints.max_task_retry_count == 3
    assert model.resource_files is None  # its one input is staged per node
    staged = batch.ResourceFile(Staging.of(lw.workload, digests).prep_resources(CTX)[0])
    assert staged.identity_reference.resource_id == CTX.identity_resource_id
    assert model.output_files[0].destination.container.path == "j/a/x.txt"
    assert model.output_files[0].upload_options.upload_condition == "tasksuccess"
    assert model.user_identity.auto_user.elevation_level == "admin"
    assert model.depends_on.task_ids == ["b"]
    assert model.application_package_references[0].application_id == "blender"


def test_job_id_follows_spec_and_input_content(write, repo):
    path = write(HEAD + "inputs: [prog/run.py]\ntasks:\n  - {id: a, command: x}\n")
    lw = load_workload(path)
    first = job_id(lw.workload, {f.relpath: file_digest(f.path) for f in lw.files})
    assert first == job_id(load_workload(path).workload, {f.relpath: file_digest(f.path) for f in lw.files})
    (repo / "workloads" / "prog" / "run.py").write_text("print('changed')\n")
    changed = job_id(lw.workload, {f.relpath: file_digest(f.path) for f in lw.files})
    assert first.startswith("demo-") and len(first) == 13 and changed != first


def test_placeholder_values_are_exported_as_variables(write, repo):
    (repo / "workloads" / "data" / "it's a.csv").write_text("x\n")
    lw, tasks = tasks_of(write, "inputs: [data/*.csv]\ntasks:\n  - id: p-{index}\n    command: run {file}\n"
                                "    foreach: {files: 'data/*.csv'}\n    env: {MODE: fast}\n"
                                "  - id: s-{index}\n    command: run {seed:.2f}\n    sweep: {seed: {values: [4, 0.5]}}\n")
    env = [{e["name"]: e["value"] for e in task_body(t, lw.workload, "j", CTX, {f.relpath: "0" * 64 for f in
                                                                            lw.files})["environmentSettings"]}
           for t in tasks]
    assert tasks[0].command == """run 'data/it'"'"'s a.csv'"""
    assert env[0] == {"MODE": "fast", "BIGCOMPUTE_FILE": "data/it's a.csv", "BIGCOMPUTE_NAME": "it's a.csv",
                      "BIGCOMPUTE_STEM": "it's a", "BIGCOMPUTE_EXT": "csv", "BIGCOMPUTE_DIR": "data",
                      "BIGCOMPUTE_INDEX": "0"}
    assert env[-1] == {"BIGCOMPUTE_PARAM_seed": "0.5", "BIGCOMPUTE_INDEX": "1"}


@pytest.mark.parametrize("name, encoded", [("a#b.csv", "a%23b.csv"), ("c?d.csv", "c%3Fd.csv"),
                                           ("e;f.csv", "e%3Bf.csv"), ("50%.csv", "50%25.csv"),
                                           ("sub dir/g h.csv", "sub%20dir/g%20h.csv")])
def test_resource_urls_encode_the_blob_name(write, repo, name, encoded):
    (repo / "workloads" / "data" / name).parent.mkdir(exist_ok=True)
    (repo / "workloads" / "data" / name).write_text("x\n")
    lw, [task] = tasks_of(write, f"inputs: ['data/{name}']\ntasks:\n  - {{id: a, command: x, "
                                 f"foreach: {{files: 'data/{name}'}}}}\n")
    body = task_body(task, lw.workload, "j", CTX, {f"data/{name}": "f" * 64})
    [resource] = body["resourceFiles"]  # a task's own file; its digest rides in the command (issue 13, item 7)
    assert f"{'f' * 64}  data/{name}" in body["commandLine"]
    assert resource["httpUrl"] == f"{CTX.inputs_url}/demo/{'f' * 32}/data/{encoded}"
    # How Azure's own client reads the URL back: the blob the runner uploaded under its plain name.
    assert BlobClient.from_blob_url(resource["httpUrl"]).blob_name == f"demo/{'f' * 32}/data/{name}"
    assert resource["filePath"] == f"data/{name}"
