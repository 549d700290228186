"""Multi-instance (MPI) task groups in the workload language: the schema, what Batch refuses or never schedules
(checked before deploy, located at the field), and the task's multiInstanceSettings as Batch receives them."""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
from pathlib import Path

import pytest
from azure.batch import models as batch

from bigcompute.config.images import IMAGE_ALIASES
from bigcompute.config.model import AutoScale, FixedScale, LocalPool, PoolConfig
from bigcompute.workload import iter_tasks, load_workload
from bigcompute.workload.inputs import file_digest
from bigcompute.workload.wire import Staging, StorageContext, job_id, task_body

HEAD = "apiVersion: bigcompute/v1\nkind: Workload\nname: demo\npool: mpi\n"
CTX = StorageContext("https://acct.blob.core.windows.net/inputs", "https://acct.blob.core.windows.net/outputs",
                     "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/p")
MPI_GROUP = """\
inputs: [prog/run.py, data/*.csv, {url: 'https://example.com/mesh.bin', to: mesh, sha256: '%s'}]
tasks:
  - id: solve-{n}
    command: mpirun --host $AZ_BATCH_HOST_LIST python3 prog/run.py {n}
    sweep: {n: {values: [1, 2]}}
    multiInstance:
      nodes: 3
      coordination: echo ready
      commonInputs: [prog/*.py, 'mesh/*']
    outputs: [results/*]
""" % ("ab" * 32)


@pytest.fixture
def problems(refused):
    return lambda body, **kwargs: refused(HEAD + body, **kwargs)


def pool(**kw) -> PoolConfig:
    base = {"name": "mpi", "vm_size": "Standard_D2s_v5", "image": IMAGE_ALIASES["ubuntu-24.04"],
            "scale": FixedScale(3), "inter_node_communication": True, "local": LocalPool(3)}
    return PoolConfig(**{**base, **kw})


def test_every_new_schema_field_is_described():
    schema = json.loads((Path(__file__).resolve().parents[2] / "bigcompute/workload/workload.schema.json").read_text())
    block = schema["$defs"]["taskGroup"]["properties"]["multiInstance"]
    assert block["description"] and block["required"] == ["nodes"]
    assert all(spec.get("description") for spec in block["properties"].values())
    assert set(block["properties"]) == {"nodes", "coordination", "commonInputs"}


@pytest.mark.parametrize(("block", "line", "fragment"), [
    ("{coordination: x}", 8, "missing required key 'nodes'"),
    ("{nodes: 0}", 8, "less than the minimum of 1"),
    ("{nodes: 101}", 8, "greater than the maximum of 100"),
    ("{nodes: 2, slots: 1}", 8, "unknown key 'slots'"),
    ("{nodes: 2, commonInputs: []}", 8, "should be non-empty"),
])
def test_the_schema_refuses_bad_blocks_at_their_line(problems, block, line, fragment):
    found = problems(f"tasks:\n  - id: a\n    command: x\n    multiInstance: {block}\n")
    assert found and all(f[0] == line for f in found), found
    assert any(fragment in f[3] for f in found), found


def test_slots_on_a_multi_instance_group_are_refused_where_they_are_set(problems):
    found = problems("tasks:\n  - id: a\n    command: x\n    multiInstance: {nodes: 2}\n"
                            "    settings: {slots: 2}\n")
    assert [(f[0], f[2]) for f in found] == [(9, "multi-instance")]
    assert "requiredSlots 1" in found[0][3] and "batch-mpi" in found[0][3]
    # from the defaults: located at defaults.slots
    found = problems("defaults: {slots: 2}\ntasks:\n  - id: a\n    command: x\n    multiInstance: {nodes: 2}\n")
    assert [(f[0], f[2]) for f in found] == [(5, "multi-instance")]
    # slots 1 is what Batch asks for
    assert problems("tasks:\n  - id: a\n    command: x\n    multiInstance: {nodes: 2}\n"
                           "    settings: {slots: 1}\n") == []


def test_a_common_input_that_matches_nothing_is_refused(problems):
    found = problems("inputs: [prog/run.py]\ntasks:\n  - id: a\n    command: x\n"
                            "    multiInstance: {nodes: 2, commonInputs: [prog/*.py, lib/*.so]}\n")
    assert [(f[0], f[2]) for f in found] == [(9, "multi-instance")]
    assert "'lib/*.so' matches no input file" in found[0][3]


@pytest.mark.parametrize(("fit", "line", "fragment"), [
    (pool(inter_node_communication=False), 9, "does not enable inter-node communication"),
    (pool(task_slots_per_node=2), 9, "runs 2 tasks per node (taskSlotsPerNode)"),
    (pool(local=LocalPool(3, 2)), 9, "runs 2 tasks per node (local.taskSlotsPerNode)"),
    (pool(scale=FixedScale(1, 1)), 10, "nodes: 3 is more than pool 'mpi' can have (2)"),
    (pool(scale=AutoScale(preset="queue-pending", params={"maxNodes": 2})), 10, "can have (2)"),
    (pool(local=LocalPool(2)), 10, "more than the 2 local node(s) of pool 'mpi' (local.nodes)"),
])
def test_a_pool_that_would_never_run_it_is_refused_with_the_stack(problems, fit, line, fragment):
    body = "inputs: [prog/run.py]\ntasks:\n  - id: a\n    command: x\n    multiInstance:\n      nodes: 3\n"
    [(got_line, _, code, message)] = problems(body, pools={fit.name: fit})
    assert (got_line, code) == (line, "multi-instance-pool") and fragment in message, message
    assert problems(body, pools={'mpi': pool()}) == []
    assert problems(body) == []  # without a stack there is no pool to check against


def _body(write, text: str):
    lw = load_workload(write(HEAD + text))
    digests = {f.relpath: file_digest(f.path) for f in lw.files}
    stage = Staging.of(lw.workload, digests, lw.files)
    job = job_id(lw.workload, digests)
    return lw, digests, stage, [task_body(t, lw.workload, job, CTX, digests, stage=stage)
                                for t in iter_tasks(lw.workload, lw.files)]


def test_the_task_carries_multi_instance_settings_as_batch_takes_them(write):
    lw, digests, stage, bodies = _body(write, MPI_GROUP)
    assert [b["id"] for b in bodies] == ["solve-1", "solve-2"]
    body = bodies[0]
    settings = body["multiInstanceSettings"]
    assert settings["numberOfInstances"] == 3
    identity = {"resourceId": CTX.identity_resource_id}
    assert settings["commonResourceFiles"] == [
        {"httpUrl": "https://example.com/mesh.bin", "filePath": "mesh/mesh.bin"},
        {"httpUrl": f"{CTX.inputs_url}/{stage.stored_name('prog/run.py')}", "filePath": "prog/run.py",
         "identityReference": identity}]
    assert stage.stored_name("prog/run.py").startswith("demo/")  # the uploaded snapshot's blob
    assert settings["coordinationCommandLine"].startswith("/bin/sh -c ")
    assert settings["coordinationCommandLine"].endswith("; echo ready'")
    # requiredSlots must be 1 for multi-instance tasks: not sent; the pool-scope auto-user exists on every node
    assert "requiredSlots" not in body
    assert body["userIdentity"] == {"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}}
    # the SDK reads it back as its own model: the wire shape is Batch's
    model = batch.BatchTaskCreateOptions(body)
    assert model.multi_instance_settings.number_of_instances == 3
    assert model.multi_instance_settings.common_resource_files[1].file_path == "prog/run.py"
    # an ordinary group carries none of it
    _, _, _, [plain] = _body(write, "tasks:\n  - id: a\n    command: x\n    settings: {slots: 1}\n")
    assert "multiInstanceSettings" not in plain and plain["requiredSlots"] == 1


def _coordinate(command_line: str, shared: Path) -> subprocess.CompletedProcess:
    argv = shlex.split(command_line)
    return subprocess.run(argv, env={"AZ_BATCH_TASK_SHARED_DIR": str(shared), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, cwd=shared)


def test_the_coordination_command_checks_the_common_files_before_it_runs(write, tmp_path):
    mesh = b"mesh bytes"
    text = MPI_GROUP.replace("ab" * 32, hashlib.sha256(mesh).hexdigest())
    lw, _, _, bodies = _body(write, text)
    command = bodies[0]["multiInstanceSettings"]["coordinationCommandLine"]
    shared = tmp_path / "shared"
    (shared / "prog").mkdir(parents=True)
    (shared / "mesh").mkdir()
    (shared / "prog" / "run.py").write_bytes((lw.workload.folder / "prog" / "run.py").read_bytes())
    (shared / "mesh" / "mesh.bin").write_bytes(mesh)
    done = _coordinate(command, shared)
    assert (done.returncode, done.stdout.strip()) == (0, "ready"), done.stderr
    (shared / "prog" / "run.py").write_text("print('not what was uploaded')\n")
    done = _coordinate(command, shared)
    assert done.returncode == 1 and "ready" not in done.stdout
    assert "bigcompute: input prog/run.py does not match its digest" in done.stderr


def test_without_coordination_nor_common_inputs_the_command_is_a_no_op(write, tmp_path):
    _, _, _, [body] = _body(write, "tasks:\n  - id: a\n    command: x\n    multiInstance: {nodes: 2}\n")
    assert body["multiInstanceSettings"] == {"numberOfInstances": 2, "coordinationCommandLine": "/bin/sh -c true"}
    assert _coordinate(body["multiInstanceSettings"]["coordinationCommandLine"], tmp_path).returncode == 0


def test_multi_instance_settings_are_part_of_the_jobs_identity(write):
    base = "tasks:\n  - id: a\n    command: x\n    multiInstance: {nodes: %d}\n"
    ids = {n: job_id(load_workload(write(HEAD + base % n)).workload, {}) for n in (2, 3)}
    assert ids[2] != ids[3]
