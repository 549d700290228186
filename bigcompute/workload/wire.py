"""Workload tasks as Batch sees them: deterministic job ids and `azure.batch.models` task objects.

Inputs reach tasks as one resource file per input file (blob URL + the pool's managed identity), placed
at the file's path relative to the workload, so a task's working directory looks like the workload
folder. Outputs go to `<job id>/<task id>/` in the outputs container; stdout/stderr always follow.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from azure.batch import models as batch

from bigcompute.workload.deps import DependencyCollector
from bigcompute.workload.expand import TaskSpec
from bigcompute.workload.globs import has_wildcard
from bigcompute.workload.inputs import InputFile
from bigcompute.workload.model import UPLOAD_CONDITIONS, Workload

OUTPUTS_ENV = "BIGCOMPUTE_TASK_OUTPUTS"


@dataclass(frozen=True)
class StorageContext:
    """Where tasks read inputs and write outputs; container URLs carry no SAS token, ever."""

    inputs_url: str
    outputs_url: str
    identity_resource_id: str | None = None

    def identity(self) -> batch.BatchNodeIdentityReference | None:
        rid = self.identity_resource_id
        return batch.BatchNodeIdentityReference(resource_id=rid) if rid else None


def spec_hash(workload: Workload, digests: Mapping[str, str]) -> str:
    """Hash of the normalized spec and its inputs' content: the identity of a job."""
    canonical = json.dumps({"spec": workload.raw, "inputs": sorted(digests.items())}, sort_keys=True,
                           separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def job_id(workload: Workload, digests: Mapping[str, str]) -> str:
    return f"{workload.name}-{spec_hash(workload, digests)[:8]}"


def input_blob_name(workload: Workload, file: InputFile, digest: str) -> str:
    """Content-addressed, so a running job never sees a later edit of its inputs."""
    return f"{workload.name}/{digest[:32]}/{file.relpath}"


def shell_command(command: str) -> str:
    # Batch runs the command line without a shell; workloads are written as shell commands.
    return f"/bin/sh -c {shlex.quote(command)}"


def task_model(task: TaskSpec, workload: Workload, job: str, ctx: StorageContext,
               digests: Mapping[str, str], merge_depends: batch.BatchTaskDependencies | None = None
               ) -> batch.BatchTaskCreateOptions:
    identity = ctx.identity()
    resources = [batch.ResourceFile(http_url=f"{ctx.inputs_url}/{input_blob_name(workload, f, digests[f.relpath])}",
                                    file_path=f.relpath, identity_reference=identity) for f in task.files]
    env = list(task.env)
    if task.is_merge:
        resources.append(batch.ResourceFile(storage_container_url=ctx.outputs_url, blob_prefix=f"{job}/",
                                            file_path="outputs", identity_reference=identity))
        env.append((OUTPUTS_ENV, f"outputs/{job}"))
    s = task.settings
    return batch.BatchTaskCreateOptions(
        id=task.id,
        display_name=task.display_name,
        command_line=shell_command(task.command),
        resource_files=resources or None,
        output_files=_outputs(task, job, ctx),
        environment_settings=[batch.EnvironmentSetting(name=k, value=v) for k, v in env] or None,
        constraints=batch.BatchTaskConstraints(max_wall_clock_time=s.timeout, retention_time=s.retention,
                                               max_task_retry_count=s.retries)
        if (s.timeout, s.retention, s.retries) != (None, None, None) else None,
        required_slots=s.slots,
        user_identity=batch.UserIdentity(auto_user=batch.AutoUserSpecification(
            scope="task", elevation_level="admin")) if s.elevated else None,
        depends_on=merge_depends if task.is_merge else (
            batch.BatchTaskDependencies(task_ids=list(task.depends_on)) if task.depends_on else None),
        application_package_references=[batch.BatchApplicationPackageReference(application_id=a.id, version=a.version)
                                        for a in workload.applications] or None,
        container_settings=batch.BatchTaskContainerSettings(
            image_name=workload.container_image, container_run_options=workload.container_options)
        if workload.container_image else None,
    )


def _outputs(task: TaskSpec, job: str, ctx: StorageContext) -> list[batch.OutputFile]:
    identity = ctx.identity()

    def upload(pattern: str, path: str, condition: str) -> batch.OutputFile:
        return batch.OutputFile(
            file_pattern=pattern,
            destination=batch.OutputFileDestination(container=batch.OutputFileBlobContainerDestination(
                container_url=ctx.outputs_url, path=path, identity_reference=identity)),
            upload_options=batch.OutputFileUploadConfiguration(upload_condition=condition))

    base = f"{job}/{task.id}"
    # Batch keeps a wildcard match's path below the pattern's fixed folders; a plain path gets the same rule.
    files = [upload(o.pattern, base if has_wildcard(o.pattern) else f"{base}/{PurePosixPath(o.pattern).name}",
                    UPLOAD_CONDITIONS[o.when]) for o in task.outputs]
    files.append(upload("../std*.txt", f"{base}/logs", "taskcompletion"))
    return files


def merge_dependencies(task_ids: Iterable[str]) -> batch.BatchTaskDependencies:
    """All of `task_ids`, as id ranges when every id is a plain integer (Batch's 64,000-character limit)."""
    collector = DependencyCollector()
    for task_id in task_ids:
        collector.add(task_id)
    return collector.dependencies()
