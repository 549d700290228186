"""Reuse of succeeded tasks (as Nextflow's `-resume` and dsub's `--skip`): a task of a new job whose own definition
and inputs equal those of a task that succeeded in one of the workload's earlier jobs is not run again; its outputs
are copied, blob by blob inside the outputs container, to where the new job's tasks and its merge expect them.

"Equal" is decided from what Batch runs, never from guesses: the task's JSON (command line, resource files, which
name its inputs by content digest, output files, environment, identity, container, packages) with the job id
blanked out, plus the job fields that shape every task (pool, common environment, job preparation task). A
workload whose tasks read what their definition does not pin (blob inputs, `foreach: {blobs: …}`, https URLs) or
depend on each other reuses nothing, and the plan says why.

The decision is recorded before the job is created (`.reuse/<job>.json` in the inputs container) and read back by a
resumed apply, so a crashed apply converges to the same task set even if earlier jobs changed meanwhile.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient

from bigcompute.runner.clients import Clients
from bigcompute.runner.errors import DeployError
from bigcompute.runner.jobs import JobInfo, job_model
from bigcompute.runner.sync import SyncPlan
from bigcompute.workload import LoadedWorkload, iter_tasks
from bigcompute.workload.wire import StorageContext, task_body

TASK_FIELDS = ("commandLine", "resourceFiles", "outputFiles", "environmentSettings", "userIdentity",
               "containerSettings", "applicationPackageReferences")
JOB_FIELDS = ("poolInfo", "commonEnvironmentSettings", "jobPreparationTask")
SOURCES = 5  # earlier jobs looked at, newest first: each costs one job GET and one listing of its succeeded tasks
RECORDS = ".reuse"


@dataclass(frozen=True)
class Reuse:
    tasks: Mapping[str, str] = field(default_factory=dict)  # task id → the job whose outputs it reuses
    note: str = ""  # why nothing could be reused, when that is not obvious

    def __len__(self) -> int:
        return len(self.tasks)


DEFAULT_IDENTITY = {"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}}  # what Batch shows for none


def _key(fields: Mapping[str, Any], names: Iterable[str], job_id: str) -> str:
    kept = {k: fields.get(k) for k in names if fields.get(k)}
    if kept.get("userIdentity") == DEFAULT_IDENTITY:
        del kept["userIdentity"]
    text = json.dumps(kept, sort_keys=True).replace(job_id, "{job}")
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def fingerprint(task: Mapping[str, Any], job_id: str, job_key: str) -> str:
    """What a task does, whatever job it is in: equal fingerprints, equal outputs."""
    return _key(task, TASK_FIELDS, job_id) + job_key


def refusal(lw: LoadedWorkload) -> str:
    wl = lw.workload
    if wl.blob_inputs or wl.url_inputs or any(g.foreach_blobs for g in wl.groups):
        return "tasks read blobs or URLs whose content their definition does not pin"
    if any(t.depends_on for t in iter_tasks(wl, lw.files) if not t.is_merge):
        return "tasks depend on each other"
    return ""


def plan_reuse(clients: Clients, lw: LoadedWorkload, job_id: str, spec: str, sync: SyncPlan,
               earlier: list[JobInfo]) -> Reuse:
    """Which tasks of the job `job_id` about to be created can reuse a succeeded task of one of `earlier`."""
    if not earlier:
        return Reuse()
    why = refusal(lw)
    if why:
        return Reuse(note=f"no task reused: {why}")
    target = clients.target
    ctx = StorageContext(target.inputs_url, target.outputs_url, target.identity_resource_id)
    new_job = job_model(lw.workload, job_id, target.pool_id(lw.workload.pool), spec, target.stack,
                        stage=sync.stage, ctx=ctx).as_dict()  # as apply creates it, staging included
    job_key = _key(new_job, JOB_FIELDS, job_id)
    succeeded = [done for done in (_succeeded(clients, j.id, job_key) for j in _newest(earlier)) if done]
    if not succeeded:
        return Reuse()
    reused = {}
    for task_id, print_ in _fingerprints(lw, job_id, job_key, ctx, sync):
        source = next((job for job, prints in succeeded if prints.get(task_id) == print_), None)
        if source:
            reused[task_id] = source
    return Reuse(reused)


def _newest(jobs: list[JobInfo]) -> list[JobInfo]:
    return sorted(jobs, key=lambda j: (j.creation_time is not None, j.creation_time or 0), reverse=True)[:SOURCES]


def _succeeded(clients: Clients, job_id: str, job_key: str) -> tuple[str, dict[str, str]] | None:
    """The fingerprints of the job's succeeded tasks, when its job fields match the new job's."""
    try:
        job = clients.batch.get_job(job_id, select=["id", *JOB_FIELDS]).as_dict()
    except ResourceNotFoundError:
        return None
    if _key(job, JOB_FIELDS, job_id) != job_key:
        return None
    tasks = clients.batch.list_tasks(job_id, filter="executionInfo/result eq 'success'",
                                     select=["id", *TASK_FIELDS], max_results=1000)
    return job_id, {t.id: fingerprint(t.as_dict(), job_id, job_key) for t in tasks}


def _fingerprints(lw: LoadedWorkload, job_id: str, job_key: str, ctx: StorageContext,
                  sync: SyncPlan) -> Iterator[tuple[str, str]]:
    wl = lw.workload
    for task in iter_tasks(wl, lw.files):
        if not task.is_merge:
            body = task_body(task, wl, job_id, ctx, sync.digests, stage=sync.stage)
            yield task.id, fingerprint(body, job_id, job_key)


def record(inputs: ContainerClient, job_id: str, reuse: Reuse) -> None:
    """Written before the job is created: what a resumed apply of this job reuses."""
    inputs.upload_blob(f"{RECORDS}/{job_id}.json", json.dumps(dict(reuse.tasks)).encode(), overwrite=True)


def recorded(inputs: ContainerClient, job_id: str) -> Reuse:
    try:
        return Reuse(json.loads(inputs.download_blob(f"{RECORDS}/{job_id}.json").readall()))
    except ResourceNotFoundError:
        return Reuse()


def copy_outputs(outputs: ContainerClient, job_id: str, reuse: Reuse, workers: int = 8) -> int:
    """Copy each reused task's blobs (`<source>/<task>/…`) to `<job>/<task>/…`; idempotent. Returns blobs copied.
    A source blob in the same storage account is authorized by the copy request's own credentials:
    https://learn.microsoft.com/rest/api/storageservices/copy-blob#authorization. Every copy has finished when
    this returns (the merge, added later, reads them)."""
    def one(item: tuple[str, str]) -> int:
        task, source = item
        n = 0
        for blob in outputs.list_blobs(name_starts_with=f"{source}/{task}/"):
            target = outputs.get_blob_client(f"{job_id}/{blob.name[len(source) + 1:]}")
            target.start_copy_from_url(outputs.get_blob_client(blob.name).url)
            _finished(target)
            n += 1
        return n

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(one, sorted(reuse.tasks.items())))


def _finished(blob, timeout: float = 300.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while (status := blob.get_blob_properties().copy.status) == "pending":
        if time.monotonic() > deadline:
            raise DeployError(f"copying {blob.blob_name} did not finish within {timeout:.0f} s")
        time.sleep(0.2)
    if status != "success":
        raise DeployError(f"copying {blob.blob_name} ended as {status}")
