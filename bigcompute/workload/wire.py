"""Workload tasks as Batch sees them: deterministic job ids and `azure.batch.models` task objects.

Inputs reach tasks as one resource file per input file (blob URL + the pool's managed identity), placed
at the file's path relative to the workload, so a task's working directory looks like the workload
folder. Outputs go to `<job id>/<task id>/` in the outputs container; stdout/stderr always follow.

Blob inputs (`{blob: PREFIX, to: DIR}`: blobs already in the inputs container) reach every task as one
container resource file (container URL + `blobPrefix` + the pool's identity). Batch keeps each blob's full
name below `filePath`, so `shared/x.csv` with `to: data` lands at `data/shared/x.csv`. They are read as they
are when the task starts: the plan's listing of the prefix fixes the job's identity (`spec_hash`), not the
bytes, and they are not in the checksum list.

A task with inputs also gets the workload's checksum list (`sha256sum` format, content-addressed like the
inputs) and checks its inputs against it before its command runs: whoever can write to the inputs container
(on the local target, anyone with Azurite's public key) cannot make the next run execute other bytes.
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

from bigcompute.workload.deps import DependencyCollector
from bigcompute.workload.expand import TaskSpec
from bigcompute.workload.globs import has_wildcard
from bigcompute.workload.inputs import InputFile
from bigcompute.workload.model import UPLOAD_CONDITIONS, OutputSpec, Workload
from bigcompute.workload.storage import ListedFile, container_url, destination_blob_path, fill_job

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
    return f"{workload.name}/{digest[:32]}/{file.relpath}"


def blob_url(container_url: str, name: str) -> str:
    """A blob's URL: the name percent-encoded (`/` kept), so `a#b.csv`, `c?d.csv` and `50%.csv` name
    their blob rather than a fragment, a query or an escape.
    https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata#resource-uri-syntax"""
    return f"{container_url}/{quote(name, safe='/')}"


CHECKSUMS_PATH = ".bigcompute/inputs.sha256"
_REFUSE = "does not match its digest; refusing to run"


@dataclass(frozen=True)
class InputChecksums:
    """Every input of a workload as `sha256sum -c` reads it, and the SHA-256 of that list."""

    data: bytes
    digest: str

    @classmethod
    def of(cls, digests: Mapping[str, str]) -> InputChecksums:
        data = "".join(_checksum_line(path, digests[path]) for path in sorted(digests)).encode()
        return cls(data, hashlib.sha256(data).hexdigest())

    @classmethod
    def of_workload(cls, workload: Workload, digests: Mapping[str, str]) -> InputChecksums:
        """The list of the input files' digests and of the SHA-256 declared by URL inputs."""
        return cls.of({**digests, **url_digests(workload)})

    def blob_name(self, workload: Workload) -> str:
        return f"{workload.name}/{self.digest[:32]}/{CHECKSUMS_PATH}"


def url_digests(workload: Workload) -> dict[str, str]:
    """Where each URL input with a `sha256` lands → that digest: checked on the node like the input files."""
    return {u.path: u.sha256 for u in workload.url_inputs if u.sha256}


def verifies(task: TaskSpec, workload: Workload) -> bool:
    """Whether the task gets the checksum list: it has input files, or URL inputs with a digest."""
    return any(not isinstance(f, ListedFile) for f in task.files) or bool(url_digests(workload))


def _checksum_line(path: str, digest: str) -> str:
    # GNU sha256sum's escape for names holding a backslash or a newline: a leading "\" and \\, \n inside.
    if "\\" in path or "\n" in path:
        escaped = path.replace("\\", "\\\\").replace("\n", "\\n")
        return f"\\{digest}  {escaped}\n"
    return f"{digest}  {path}\n"


def verify_inputs(command: str, checksums: InputChecksums) -> str:
    """`command` preceded by the checks: the list against the digest this task carries, then each input the
    task has against the list (`--ignore-missing`: a task holds only some of the inputs). A mismatch prints
    one line naming the input on stderr and exits 1 before the command starts."""
    listed = f"{checksums.digest}  {CHECKSUMS_PATH}"
    return (f'echo "{listed}" | sha256sum -c --status || '
            f'{{ echo "bigcompute: input {CHECKSUMS_PATH} {_REFUSE}" >&2; exit 1; }}; '
            f"r=$(sha256sum -c --quiet --strict --ignore-missing {CHECKSUMS_PATH} 2>/dev/null) || "
            f'{{ printf "%s\\n" "$r" | sed -n "s/^\\(.*\\): FAILED.*/bigcompute: input \\1 {_REFUSE}/p" >&2; exit 1; }}; '
            f"{command}")


def shell_command(command: str) -> str:
    # Batch runs the command line without a shell; workloads are written as shell commands.
    return f"/bin/sh -c {shlex.quote(command)}"


def task_body(task: TaskSpec, workload: Workload, job: str, ctx: StorageContext,
              digests: Mapping[str, str], merge_depends: dict | None = None,
              checksums: InputChecksums | None = None) -> dict[str, Any]:
    """The task as Batch's JSON (`BatchTaskCreateOptions` on the wire). Plain dicts: the SDK sends them
    as they are, and building its model objects costs ~90 µs a task, which a 100,000-task job feels.
    `checksums` is `InputChecksums.of(digests)`, passed in by callers that build many tasks."""
    identity = {"resourceId": ctx.identity_resource_id} if ctx.identity_resource_id else None
    resources = [_drop_none({"httpUrl": _file_url(f, workload, ctx, digests), "filePath": f.relpath,
                             "identityReference": identity}) for f in task.files]
    # Every task gets the blob inputs. With a container source, filePath is the folder (omitted: the working
    # directory) and blobs keep their full names below it; blobPrefix is a plain name prefix.
    # https://learn.microsoft.com/rest/api/batchservice/task/add#resourcefile
    resources += [_drop_none({"storageContainerUrl": ctx.container(b.container, ctx.inputs_url),
                              "blobPrefix": b.prefix, "filePath": b.to or None,
                              "identityReference": identity}) for b in workload.blob_inputs]
    # URL inputs: an httpUrl needs filePath, the file's own path. No identity: a public https URL.
    resources += [{"httpUrl": u.url, "filePath": u.path} for u in workload.url_inputs]
    command = task.command
    if verifies(task, workload):
        checksums = checksums or InputChecksums.of_workload(workload, digests)
        resources.append(_drop_none({"httpUrl": blob_url(ctx.inputs_url, checksums.blob_name(workload)),
                                     "filePath": CHECKSUMS_PATH, "identityReference": identity}))
        command = verify_inputs(command, checksums)
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
                            "commandLine": shell_command(command),
                            "resourceFiles": resources or None,
                            "outputFiles": _outputs(task, job, ctx, identity),
                            "environmentSettings": [{"name": k, "value": v} for k, v in env] or None,
                            "constraints": _drop_none({"maxWallClockTime": _duration(s.timeout),
                                                       "retentionTime": _duration(s.retention),
                                                       "maxTaskRetryCount": s.retries}) or None,
                            "requiredSlots": s.slots}
    if s.elevated:
        body["userIdentity"] = {"autoUser": {"scope": "task", "elevationLevel": "admin"}}
    if task.is_merge:
        body["dependsOn"] = merge_depends
    elif task.depends_on or task.depends_ranges:
        # https://learn.microsoft.com/rest/api/batchservice/task/add#taskdependencies: ranges are inclusive
        body["dependsOn"] = _drop_none({"taskIds": list(task.depends_on) or None,
                                        "taskIdRanges": [{"start": a, "end": b} for a, b in task.depends_ranges]
                                        or None})
    if workload.applications:
        body["applicationPackageReferences"] = [_drop_none({"applicationId": a.id, "version": a.version})
                                                for a in workload.applications]
    if workload.container_image:
        body["containerSettings"] = _drop_none({"imageName": workload.container_image,
                                                "containerRunOptions": workload.container_options})
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
