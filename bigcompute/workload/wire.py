"""Workload tasks as Batch sees them: deterministic job ids and task JSON.

Inputs shared by all tasks (the input snapshot, blob inputs, URL inputs) are staged once per node by the job
preparation task and linked into each task's working directory (see `staging`), so a task's working
directory looks like the workload folder. A task carries only its own input files (a `foreach:` group's
file, a listed blob) as resource files (blob URL + the pool's managed identity), and checks its input files
against digests carried in its command line before the command runs: whoever can write to the inputs
container (on the local target, anyone with Azurite's public key) cannot make the next run execute other
bytes. Outputs go to `<job id>/<task id>/` in the outputs container; stdout/stderr always follow.

Blob inputs (`{blob: PREFIX, to: DIR}`) are read as they are when the job's preparation task runs on a node:
the plan's listing of the prefix fixes the job's identity (`spec_hash`), not the bytes, and they are not in
the checksum list.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

import isodate

from bigcompute.workload import multi_instance
from bigcompute.workload.containers import container_settings
from bigcompute.workload.deps import DependencyCollector
from bigcompute.workload.exits import batch_exit_conditions
from bigcompute.workload.expand import TaskSpec
from bigcompute.workload.globs import has_wildcard
from bigcompute.workload.inputs import InputFile
from bigcompute.workload.model import UPLOAD_CONDITIONS, OutputSpec, Workload
from bigcompute.workload.staging import (
    CHECKSUMS_PATH,
    InputChecksums,
    Staging,
    content_blob_name,
    url_digests,
)
from bigcompute.workload.storage import ListedFile, container_url, destination_blob_path, fill_job

__all__ = ["CHECKSUMS_PATH", "InputChecksums", "Staging", "url_digests"]  # re-exported: where callers found them

OUTPUTS_ENV = "BIGCOMPUTE_TASK_OUTPUTS"


@dataclass(frozen=True)
class StorageContext:
    """Where tasks read inputs and write outputs; container URLs carry no SAS token, ever."""

    inputs_url: str
    outputs_url: str
    identity_resource_id: str | None = None

    @property
    def endpoint(self) -> str:
        """The stack's blob endpoint: bare container names of a workload are containers there."""
        return self.inputs_url.rsplit("/", 1)[0]

    def container(self, ref: str | None, default: str) -> str:
        return default if ref is None else container_url(ref, self.endpoint)


def spec_hash(workload: Workload, digests: Mapping[str, str], blobs: Mapping[str, str] | None = None) -> str:
    """Hash of the normalized spec, its inputs' content, the listing of its blob inputs (blob name →
    version, see `runner.sync.list_blob_input`) and of its `foreach: {blobs: …}` groups: the identity of a
    job, so new or changed blobs make a new job. Without blob inputs and listings the hash is the one earlier
    releases computed, so their jobs keep their ids."""
    identity: dict[str, Any] = {"spec": workload.raw, "inputs": sorted(digests.items())}
    if blobs:
        identity["blobs"] = sorted(blobs.items())
    if workload.parameters:  # submit-time values: other values, another job
        identity["parameters"] = sorted(workload.parameters.items())
    if workload.listings:
        identity["foreach"] = {str(g): [(f.name, f.version, f.size) for f in listed]
                               for g, listed in sorted(workload.listings.items())}
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def job_id(workload: Workload, digests: Mapping[str, str]) -> str:
    return f"{workload.name}-{spec_hash(workload, digests)[:8]}"


def input_blob_name(workload: Workload, file: InputFile, digest: str) -> str:
    """Content-addressed, so a running job never sees a later edit of its inputs."""
    return content_blob_name(workload, file.relpath, digest)


def blob_url(container_url: str, name: str) -> str:
    """A blob's URL: the name percent-encoded (`/` kept), so `a#b.csv`, `c?d.csv` and `50%.csv` name
    their blob rather than a fragment, a query or an escape.
    https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata#resource-uri-syntax"""
    return f"{container_url}/{quote(name, safe='/')}"


def shell_command(command: str, windows: bool = False) -> str:
    # Batch runs the command line without a shell; workloads are written as shell commands: POSIX sh on Linux,
    # cmd on Windows, which takes the rest of the line as it is ("cmd /c", as Batch's Windows examples do:
    # https://learn.microsoft.com/azure/batch/batch-compute-node-environment-variables#command-line-expansion).
    return f"cmd /c {command}" if windows else f"/bin/sh -c {shlex.quote(command)}"


def task_command_line(task: TaskSpec, workload: Workload, command: str) -> str:
    """The task's command line: a shell line, or, for an image run in its entrypoint form, the command's words
    as they are (the ENTRYPOINT's arguments; see workload.containers)."""
    image = workload.container_of(task.group)
    if image is not None and image.entrypoint:
        return command
    return shell_command(command, workload.windows)


def failure_job_action(workload: Workload) -> str:
    """The jobAction of a failed task that names none (see workload.exits): with a merge, a failure ends the job."""
    return "terminate" if workload.merge else "none"


def task_body(task: TaskSpec, workload: Workload, job: str, ctx: StorageContext,
              digests: Mapping[str, str], merge_depends: dict | None = None,
              stage: Staging | None = None) -> dict[str, Any]:
    """The task as Batch's JSON (`BatchTaskCreateOptions` on the wire). Plain dicts: the SDK sends them
    as they are, and building its model objects costs ~90 µs a task, which a 100,000-task job feels.
    Inputs shared by all tasks are staged per node (`staging`): the task carries only its own files.
    `stage` is `Staging.of(workload, digests, files)`, passed in by callers that build many tasks."""
    stage = stage or Staging.of(workload, digests)
    identity = {"resourceId": ctx.identity_resource_id} if ctx.identity_resource_id else None
    own = stage.own_files(task)
    resources = [_drop_none({"httpUrl": _file_url(f, workload, ctx, digests), "filePath": f.relpath,
                             "identityReference": identity}) for f in own]
    command = stage.task_command(task.command, own)
    env = [*task.env, *task.variables]
    # The merge task gets every task's outputs; a task with `{task|group: …, outputs: true}` dependencies, theirs:
    # one container resource file per prefix below the job's folder, landing (full names kept) in outputs/<job>/.
    prefixes = [""] if task.is_merge else task.outputs_from
    resources += [_drop_none({"storageContainerUrl": ctx.outputs_url, "blobPrefix": f"{job}/{prefix}",
                              "filePath": "outputs", "identityReference": identity}) for prefix in prefixes]
    if prefixes:
        env.append((OUTPUTS_ENV, f"outputs/{job}"))
    s = task.settings
    body: dict[str, Any] = {"id": task.id, "displayName": task.display_name,
                            "commandLine": task_command_line(task, workload, command),
                            "resourceFiles": resources or None,
                            "outputFiles": _outputs(task, job, ctx, identity),
                            "environmentSettings": [{"name": k, "value": v} for k, v in env] or None,
                            "constraints": _drop_none({"maxWallClockTime": _duration(s.timeout),
                                                       "retentionTime": _duration(s.retention),
                                                       "maxTaskRetryCount": s.retries}) or None,
                            "requiredSlots": s.slots,
                            "exitConditions": batch_exit_conditions(s.exit_conditions, workload.performs_job_actions,
                                                                    failure_job_action(workload))}
    if s.elevated:
        body["userIdentity"] = {"autoUser": {"scope": "task", "elevationLevel": "admin"}}
    if task.is_merge:
        body["dependsOn"] = merge_depends
    elif task.depends_on or task.depends_ranges:
        # https://learn.microsoft.com/rest/api/batchservice/task/add#taskdependencies: ranges are inclusive
        body["dependsOn"] = _drop_none({"taskIds": list(task.depends_on) or None,
                                        "taskIdRanges": [{"start": a, "end": b} for a, b in task.depends_ranges]
                                        or None})
    mi = None if task.is_merge else workload.groups[task.group].multi_instance
    if mi is not None:  # see workload.multi_instance: requiredSlots must be 1, so it is not sent
        body["multiInstanceSettings"] = multi_instance.settings(
            mi, workload, digests, lambda p: blob_url(ctx.inputs_url, stage.stored_name(p)), identity)
        body.pop("requiredSlots", None)
        # ranks started on other nodes run as the user they were started by: the pool-scope auto-user exists
        # on every node, a task-scope one on its own node only
        # (https://learn.microsoft.com/azure/batch/batch-user-accounts#auto-user-accounts)
        body["userIdentity"] = {"autoUser": {"scope": "pool", "elevationLevel": "admin" if s.elevated else "nonadmin"}}
    if workload.applications:
        body["applicationPackageReferences"] = [_drop_none({"applicationId": a.id, "version": a.version})
                                                for a in workload.applications]
    image = workload.container_of(task.group)
    if image is not None:
        body["containerSettings"] = container_settings(image, ctx.identity_resource_id)
    return _drop_none(body)


def _file_url(f: Any, workload: Workload, ctx: StorageContext, digests: Mapping[str, str]) -> str:
    """An input file's blob (content-addressed in inputs), or a listed blob of a `foreach: {blobs: …}` group."""
    if isinstance(f, ListedFile):
        return blob_url(ctx.container(f.container, ctx.inputs_url), f.name)
    return blob_url(ctx.inputs_url, input_blob_name(workload, f, digests[f.relpath]))


def _outputs(task: TaskSpec, job: str, ctx: StorageContext, identity: dict | None) -> list[dict[str, Any]]:
    def upload(pattern: str, path: str, condition: str, url: str = ctx.outputs_url) -> dict[str, Any]:
        destination = _drop_none({"containerUrl": url, "path": path, "identityReference": identity})
        return {"filePattern": pattern, "destination": {"container": destination},
                "uploadOptions": {"uploadCondition": condition}}

    base = f"{job}/{task.id}"
    # Batch keeps a wildcard match's path below the pattern's fixed folders; a plain path gets the same rule.
    files = [upload(o.pattern, _default_path(base, o) if not o.has_destination else
                    destination_blob_path(fill_job(o.path or "", job), o.pattern),
                    UPLOAD_CONDITIONS[o.when], ctx.container(o.container, ctx.outputs_url)) for o in task.outputs]
    files.append(upload("../std*.txt", f"{base}/logs", "taskcompletion"))
    return files


def _default_path(base: str, o: OutputSpec) -> str:
    return base if has_wildcard(o.pattern) else f"{base}/{PurePosixPath(o.pattern).name}"


def _duration(value: timedelta | None) -> str | None:
    return None if value is None else isodate.duration_isoformat(value)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def merge_dependencies(task_ids: Iterable[str]) -> dict[str, Any]:
    """All of `task_ids`, as id ranges when every id is a plain integer (Batch's 64,000-character limit)."""
    collector = DependencyCollector()
    for task_id in task_ids:
        collector.add(task_id)
    return collector.dependencies()
