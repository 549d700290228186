"""Incremental, parallel sync of a workload's inputs to the inputs container.

Blob names are content-addressed (`<workload>/<digest>/<path>`), so one listing of the workload's
prefix says which files are already there: a blob only appears once its upload committed, so a
present name means present content. Missing files upload in parallel; large ones in parallel blocks.
The workload's checksum list (what tasks verify their inputs against) is content-addressed the same way.

Blob inputs (`{blob: PREFIX}`) are not uploaded: each prefix is listed once, and the listing (names, sizes,
Content-MD5 or ETag) becomes part of the job's identity.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient

from bigcompute.runner.errors import DeployError
from bigcompute.workload import Workload
from bigcompute.workload.inputs import BlobInput, InputFile, file_digest
from bigcompute.workload.wire import InputChecksums, input_blob_name

LARGE_FILE = 8 << 20


@dataclass(frozen=True)
class ListedBlob:
    name: str
    size: int
    version: str  # the blob's Content-MD5 when storage has one (content, not write time), else its ETag


class EmptyBlobPrefix(Exception):
    """A blob input whose prefix names no blob: the task would run without the inputs it asked for."""

    def __init__(self, index: int, prefix: str, container: str):
        super().__init__(f"blob prefix {prefix!r} matches no blob in the inputs container '{container}'; "
                         "upload the blobs first, or fix the prefix")
        self.index = index  # among the workload's blob inputs


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
    return [ListedBlob(b.name, b.size or 0, _version(b)) for b in _list(container, blob.prefix)]


def _version(blob) -> str:
    md5 = blob.content_settings.content_md5 if blob.content_settings else None
    return f"md5:{bytes(md5).hex()}" if md5 else f"etag:{blob.etag}"


def list_blob_inputs(workload: Workload, container: ContainerClient) -> tuple[ListedBlob, ...]:
    """Every blob the workload's blob inputs name; raises EmptyBlobPrefix for a prefix that names none."""
    found: dict[str, ListedBlob] = {}
    for index, blob in enumerate(workload.blob_inputs):
        listed = list_blob_input(container, blob)
        if not listed:
            raise EmptyBlobPrefix(index, blob.prefix, container.container_name)
        found.update((b.name, b) for b in listed)
    return tuple(found[name] for name in sorted(found))


def plan_sync(workload: Workload, files: Sequence[InputFile], container: ContainerClient | None,
              digests: dict[str, str] | None = None) -> SyncPlan:
    digests = digests or digest_files(files)
    present = existing_blobs(container, f"{workload.name}/") if container is not None else set()
    missing = tuple(f for f in files if input_blob_name(workload, f, digests[f.relpath]) not in present)
    checksums = InputChecksums.of(digests)
    # No inputs, no list: tasks without inputs verify nothing.
    list_missing = bool(files) and checksums.blob_name(workload) not in present
    blobs = list_blob_inputs(workload, container) if container is not None else ()
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

    with ThreadPoolExecutor(max_workers=min(workers, max(1, len(plan.missing)), (os.cpu_count() or 2) * 8)) as pool:
        for _ in pool.map(upload, plan.missing):
            pass
    if plan.checksums_missing:
        container.upload_blob(plan.checksums.blob_name(workload), plan.checksums.data, overwrite=True,
                              metadata={"sha256": plan.checksums.digest})
