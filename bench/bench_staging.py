"""Staging benchmarks (issue 18), each beside a floor measured in the same run:

- task JSON size of a workload with 10,000 shared inputs (largest of its 1,000 tasks) vs the same task with
  no input (target <= 4 KB a task), and an apply of those 1,000 tasks on the local target (target: succeeds:
  every task in the job; the emulator's instant executor does not run them, since it reads `exit 1` in a
  command line as the exit code and every staging script holds one);
- task start with 2,000 shared inputs x 200 tasks on the local target, end to end from `apply` to the job's
  last task, vs the floor: the same job staging the same snapshot once per node and running the same
  number of tasks that do nothing with it (target <= 1.2x).
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path

from bench.bench_runner import _target_file
from bench.harness import Figure, scaled
from bench.services import Azurite, Service

NOTES = """\
The task-start floor is the runner's own job (its preparation task stages the snapshot once per node) and
the runner's own task bodies, with each task's link of the staged tree taken out: they read the input in
place. An earlier floor ran bare tasks, without the runner's log uploads and refusal check, and charged
those to staging (1.94x then). Each task still links the staged tree into its working directory with
`cp -rlf` (100 folders, 2,000 hard links: ~50 ms a task measured alone at load 2.7), so that a task writing into
an input folder writes only its own; symlinking the top-level entries instead would be constant per task but
would let a task running as root (an elevated task, or the local target without a task user) write into the
folders every task of the node shares.
"""

JSON_INPUTS, JSON_TASKS = scaled(10_000, 100), scaled(1000, 10)
START_INPUTS, START_TASKS = scaled(2000, 100), scaled(200, 10)
READ = "data/d07/f00007.txt"  # what each task of the task-start figure reads

WORKLOAD = """\
apiVersion: bigcompute/v1
kind: Workload
name: {name}
pool: cpu
inputs: [data]
tasks:
  - id: t{{i}}
    command: {command}
    sweep: {{i: {{start: 0, stop: {n}}}}}
"""


def _folder(root: Path, name: str, files: int, tasks: int, command: str) -> Path:
    """A workload of `tasks` tasks sharing `files` small inputs under data/ (100 folders)."""
    (root / ".git").mkdir(exist_ok=True)
    for i in range(files):
        path = root / "data" / f"d{i % 100:02d}" / f"f{i:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{i}\n")
    workload = root / f"{name}.yaml"
    workload.write_text(WORKLOAD.format(name=name, command=command, n=tasks))
    return workload


def _connect(folder: Path, emu: Service, az: Azurite, slots: int):  # noqa: ANN202
    from azure.batch import models as m

    from bigcompute.local.testing import LOCAL_VM, wait_for
    from bigcompute.runner.clients import connect
    from bigcompute.runner.target import from_outputs

    spec = json.loads(_target_file(folder, emu, az).read_text())
    clients = connect(from_outputs(spec["outputs"], "local", "bench", "bench", spec["credentials"]))
    clients.batch.create_pool(m.BatchPoolCreateOptions(id="cpu", vm_size="standard_d2s_v3",
                                                       target_dedicated_nodes=1, task_slots_per_node=slots,
                                                       virtual_machine_configuration=LOCAL_VM))
    wait_for(lambda: clients.batch.get_pool("cpu").allocation_state == "steady")
    return clients


def _plan(clients, workload: Path):  # noqa: ANN001, ANN202
    from bigcompute.runner.plan import make_plan
    from bigcompute.workload import load_workload

    return make_plan(clients, [load_workload(workload)], quota=100).workloads[0]


def _wait(clients, job: str, total: int) -> None:  # noqa: ANN001
    while clients.batch.get_job_task_counts(job).task_counts.completed < total:
        time.sleep(0.05)
    counts = clients.batch.get_job_task_counts(job).task_counts
    assert counts.succeeded == total, counts


def json_size() -> list[Figure]:
    from bigcompute.runner.apply import apply_workload
    from bigcompute.workload import iter_tasks, load_workload
    from bigcompute.workload.inputs import file_digest
    from bigcompute.workload.wire import Staging, StorageContext, task_body

    ctx = StorageContext("https://acct.blob.core.windows.net/inputs", "https://acct.blob.core.windows.net/outputs",
                         "/subscriptions/0/resourceGroups/rg/providers/Microsoft.ManagedIdentity/"
                         "userAssignedIdentities/pool")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        workload = _folder(root, "wide", JSON_INPUTS, JSON_TASKS, "python3 model.py {i}")
        lw = load_workload(workload)
        digests = {f.relpath: file_digest(f.path) for f in lw.files}
        stage = Staging.of(lw.workload, digests, lw.files)
        largest = max(len(json.dumps(task_body(t, lw.workload, "wide-12345678", ctx, digests, stage=stage)))
                      for t in iter_tasks(lw.workload, lw.files))
        (root / "none").mkdir()
        none = root / "none" / "none.yaml"
        none.write_text(WORKLOAD.format(name="wide", command="python3 model.py {i}", n=JSON_TASKS)
                        .replace("inputs: [data]\n", ""))
        lw_none = load_workload(none)
        floor = max(len(json.dumps(task_body(t, lw_none.workload, "wide-12345678", ctx, {})))
                    for t in iter_tasks(lw_none.workload, []))
        emu, az = Service("instant"), Azurite()
        try:
            clients = _connect(root, emu, az, slots=2)
            t0 = time.perf_counter()
            wp = _plan(clients, workload)
            report = apply_workload(clients, wp)
            applied = time.perf_counter() - t0
            counts = clients.batch.get_job_task_counts(wp.job_id).task_counts
            submitted = counts.active + counts.running + counts.completed
            clients.close()
        finally:
            emu.close()
            az.close()
    return [
        Figure(f"task JSON size, {JSON_INPUTS:,} shared inputs (largest of {JSON_TASKS:,} tasks)", largest, "bytes", floor,
               "the same task with no input", "<= 4 KB a task", largest <= 4096),
        Figure(f"apply of {JSON_TASKS:,} tasks sharing {JSON_INPUTS:,} inputs, local target (sync, job, add, mark submitted)", applied,
               "s", None, "", "succeeds", report.added == submitted == JSON_TASKS),
    ]


# the task's link of the staged tree into its working directory, as `Staging.task_command` writes it
LINK_STEP = re.compile(r"\{ cp -rlf .*?exit 1; \}; ")


def _read_in_place(body: dict, staged_root: str) -> dict:
    """The runner's task without the link step, reading the input where the preparation task staged it."""
    command, links = LINK_STEP.subn("", body["commandLine"])
    assert links == 1, body["commandLine"]
    staged = f'"$AZ_BATCH_JOB_PREP_WORKING_DIR"/{staged_root}/{READ}'
    return {**body, "commandLine": command.replace(f"cat {READ}", f"cat {staged}")}


def task_start() -> Figure:
    """The floor job is the runner's own job (its preparation task stages the same snapshot, fetched and
    verified once per node) with the runner's own tasks (the same refusal check and log uploads), minus each
    task's link of the staged tree: they read the input in place, in the preparation task's folder. What is
    left is the per-task link and the runner's own steps (lease, records, job, add, mark submitted)."""
    from bigcompute.runner.apply import apply_workload, storage_context
    from bigcompute.runner.jobs import job_model
    from bigcompute.runner.submit import add_tasks
    from bigcompute.runner.sync import upload_missing
    from bigcompute.workload import iter_tasks
    from bigcompute.workload.wire import task_body

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        workload = _folder(root, "start", START_INPUTS, START_TASKS, f"cat {READ} > /dev/null")
        emu, az = Service("subprocess"), Azurite()
        try:
            clients = _connect(root, emu, az, slots=2)
            wp = _plan(clients, workload)
            upload_missing(wp.loaded.workload, wp.sync, clients.container("inputs"))
            ctx, stage, lw = storage_context(clients), wp.sync.stage, wp.loaded
            # another spec in its metadata: the floor job must not pass for the workload's job in the next plan
            floor_job = job_model(lw.workload, "floor", "cpu", "floor", "bench", stage=stage, ctx=ctx)
            bodies = [_read_in_place(task_body(t, lw.workload, "floor", ctx, wp.sync.digests, stage=stage), stage.root)
                      for t in iter_tasks(lw.workload, lw.files)]
            t0 = time.perf_counter()
            clients.batch.create_job(floor_job)
            add_tasks(clients.batch, "floor", bodies, {})
            _wait(clients, "floor", START_TASKS)
            floor = time.perf_counter() - t0
            wp = _plan(clients, workload)
            assert not wp.sync.pending
            t0 = time.perf_counter()
            apply_workload(clients, wp)
            _wait(clients, wp.job_id, START_TASKS)
            value = time.perf_counter() - t0
            clients.close()
        finally:
            emu.close()
            az.close()
    return Figure(f"task start, {START_INPUTS:,} shared inputs x {START_TASKS} tasks, local target (apply to last task)",
                  value, "s", floor, "the runner's job and tasks, staged once per node, read in place", "<= 1.2x",
                  value <= 1.2 * floor)


def run() -> list[Figure]:
    return [*json_size(), task_start()]
