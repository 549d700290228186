"""Incremental, parallel sync of a workload's inputs to the inputs container.

Blob names are content-addressed (`<workload>/<digest>/<path>`), so one listing of the workload's
prefix says which files are already there: a blob only appears once its upload committed, so a
present name means present content. Missing files upload in parallel; large ones in parallel blocks.
The workload's checksum list (what tasks verify their inputs against) is content-addressed the same way.

Blob inputs (`{blob: PREFIX}`) are not uploaded: each prefix is listed once, and the listing (names, sizes,
Content-MD5 or ETag) becomes part of the job's identity.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from bigcompute.runner.errors import DeployError
from bigcompute.runner.killpoint import kill_point
from bigcompute.workload import Workload
from bigcompute.workload.inputs import BlobInput, InputFile, file_digest
from bigcompute.workload.wire import InputChecksums, input_blob_name, url_digests

LARGE_FILE = 8 << 20


@dataclass(frozen=True)
class ListedBlob:
    name: str
    size: int
    version: str  # the blob's Content-MD5 when storage has one (content, not write time), else its ETag


class BlobInputRefusal(Exception):
    """A blob input the plan cannot list: the task would run without the inputs it asked for."""

    def __init__(self, index: int, message: str, field: str = "blob"):
        super().__init__(message)
        self.index = index  # among the workload's blob inputs
        self.field = field  # the entry's field the refusal is about


class EmptyBlobPrefix(BlobInputRefusal):
    def __init__(self, index: int, prefix: str, container: str, role: str = "the inputs container"):
        super().__init__(index, f"blob prefix {prefix!r} matches no blob in {role} '{container}'; "
                                "upload the blobs first, or fix the prefix")


@dataclass(frozen=True)
class SyncPlan:
    files: tuple[InputFile, ...]
    digests: dict[str, str]
    missing: tuple[InputFile, ...]
    checksums: InputChecksums
    checksums_missing: bool = False
    blobs: tuple[ListedBlob, ...] = ()  # every blob the blob inputs name, once each

    @property
    def missing_bytes(self) -> int:
        return sum(f.size for f in self.missing)

    @property
    def blob_bytes(self) -> int:
        return sum(b.size for b in self.blobs)

    @property
    def blob_versions(self) -> dict[str, str]:
        """What of the blob inputs is part of the job's identity (see `wire.spec_hash`)."""
        return {b.name: f"{b.version}:{b.size}" for b in self.blobs}


def digest_files(files: Sequence[InputFile], workers: int = 4) -> dict[str, str]:
    # hashlib releases the GIL on large buffers, so threads hash several files at once.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip((f.relpath for f in files), pool.map(lambda f: file_digest(f.path), files), strict=True))


def existing_blobs(container: ContainerClient, prefix: str) -> set[str]:
    return {b.name for b in _list(container, prefix)}


def _list(container: ContainerClient, prefix: str) -> list:
    """The blobs under `prefix` with their properties: one (paged) list call."""
    try:
        return list(container.list_blobs(name_starts_with=prefix))
    except ResourceNotFoundError as e:
        raise DeployError(f"the inputs container '{container.container_name}' does not exist; "
                          "deploy the stack first (pulumi up, or bigcompute local up)") from e


def list_blob_input(container: ContainerClient, blob: BlobInput) -> list[ListedBlob]:
    """The blobs one blob input names."""
    return [ListedBlob(b.name, b.size or 0, blob_version(b)) for b in _list(container, blob.prefix)]


def blob_version(blob) -> str:
    md5 = blob.content_settings.content_md5 if blob.content_settings else None
    return f"md5:{bytes(md5).hex()}" if md5 else f"etag:{blob.etag}"


def list_blob_inputs(workload: Workload, container: ContainerClient,
                     container_for: Callable[[str], ContainerClient] | None = None) -> tuple[ListedBlob, ...]:
    """Every blob the workload's blob inputs name; raises EmptyBlobPrefix for a prefix that names none.
    `container_for`: a client for a blob input's own `container:` (the inputs container's blobs keep their
    plain names in the identity, as before; another container's are `<container>:<name>`)."""
    found: dict[str, ListedBlob] = {}
    for index, blob in enumerate(workload.blob_inputs):
        if blob.container and container_for:
            listed = _list_other(container_for(blob.container), blob, index)
        else:
            listed = list_blob_input(container, blob)
        if not listed:
            role = "container" if blob.container else "the inputs container"
            raise EmptyBlobPrefix(index, blob.prefix, blob.container or container.container_name, role)
        key = f"{blob.container}:" if blob.container else ""
        found.update((key + b.name, dataclasses.replace(b, name=key + b.name)) for b in listed)
    return tuple(found[name] for name in sorted(found))


def _list_other(container: ContainerClient, blob: BlobInput, index: int) -> list[ListedBlob]:
    """A blob input's own container: missing or unreadable is the workload's problem, located at its entry."""
    try:
        return [ListedBlob(b.name, b.size or 0, blob_version(b))
                for b in container.list_blobs(name_starts_with=blob.prefix)]
    except ResourceNotFoundError:
        raise BlobInputRefusal(index, f"container {blob.container!r} does not exist", "container") from None
    except HttpResponseError as e:
        if e.status_code not in (401, 403):
            raise
        raise BlobInputRefusal(index, f"the runner may not list container {blob.container!r} ({e.status_code}): "
                                      "grant the identity running `apply` Storage Blob Data Reader on it",
                               "container") from None


def plan_sync(workload: Workload, files: Sequence[InputFile], container: ContainerClient | None,
              digests: dict[str, str] | None = None,
              container_for: Callable[[str], ContainerClient] | None = None) -> SyncPlan:
    digests = digests or digest_files(files)
    present = existing_blobs(container, f"{workload.name}/") if container is not None else set()
    missing = tuple(f for f in files if input_blob_name(workload, f, digests[f.relpath]) not in present)
    checksums = InputChecksums.of_workload(workload, digests)
    # No inputs (nor URL inputs with a digest), no list: tasks without inputs verify nothing.
    list_missing = bool(files or url_digests(workload)) and checksums.blob_name(workload) not in present
    blobs = list_blob_inputs(workload, container, container_for) if container is not None else ()
    return SyncPlan(tuple(files), digests, missing, checksums, list_missing, blobs)


def upload_missing(workload: Workload, plan: SyncPlan, container: ContainerClient, workers: int = 16,
                   on_upload: Callable[[InputFile], None] | None = None) -> None:
    def upload(f: InputFile) -> None:
        digest = plan.digests[f.relpath]
        with open(f.path, "rb") as data:
            container.upload_blob(input_blob_name(workload, f, digest), data, length=f.size, overwrite=True,
                                  metadata={"sha256": digest},
                                  max_concurrency=4 if f.size > LARGE_FILE else 1)
        if on_upload:
            on_upload(f)
        kill_point("uploading")

    with ThreadPoolExecutor(max_workers=min(workers, max(1, len(plan.missing)), (os.cpu_count() or 2) * 8)) as pool:
        for _ in pool.map(upload, plan.missing):
            pass
    if plan.checksums_missing:
        container.upload_blob(plan.checksums.blob_name(workload), plan.checksums.data, overwrite=True,
                              metadata={"sha256": plan.checksums.digest})
