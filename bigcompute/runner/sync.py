"""Incremental, parallel sync of a workload's inputs to the inputs container.

Blob names are content-addressed, so one listing of the workload's prefix says which files are already
there: a blob only appears once its upload committed, so a present name means present content.

- Input files every task receives form the workload's input snapshot, `<workload>/<list digest>/<path>`
  (see workload.staging), which each node's job preparation task fetches with one resource file. Its
  checksum list is written last: a present list means a complete snapshot.
- Input files handed out one per task (`foreach:`) are `<workload>/<file digest>/<path>`, one resource file
  of the task that takes it.

A file whose bytes are already stored under another name (the previous snapshot, when one input of a
thousand changed) is copied there by the storage service (Copy Blob within the account: no bytes through
the runner), so a changed input uploads that input alone; a file stored nowhere uploads, in parallel, large
ones in parallel blocks. The listing carries each blob's `sha256` metadata, written with it.
https://learn.microsoft.com/rest/api/storageservices/copy-blob

Blob inputs (`{blob: PREFIX}`) are not uploaded: each prefix is listed once, and the listing (names, sizes,
Content-MD5 or ETag) becomes part of the job's identity.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from bigcompute.runner.errors import DeployError
from bigcompute.runner.killpoint import kill_point
from bigcompute.workload import Workload
from bigcompute.workload.inputs import BlobInput, InputFile, file_digest
from bigcompute.workload.staging import InputChecksums, Staging
from bigcompute.workload.wire import input_blob_name

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
    missing: tuple[InputFile, ...]  # to upload
    stage: Staging
    checksums_missing: bool = False  # the snapshot's checksum list, written last
    blobs: tuple[ListedBlob, ...] = ()  # every blob the blob inputs name, once each
    copies: tuple[tuple[str, str], ...] = ()  # (blob name, name of a stored blob with the same bytes)

    @property
    def checksums(self) -> InputChecksums | None:
        return self.stage.checksums

    def blob_name(self, workload: Workload, f: InputFile) -> str:
        """Where an input file is stored: in the snapshot, or content-addressed on its own (see module doc)."""
        if f.relpath in self.stage.owned:
            return input_blob_name(workload, f, self.digests[f.relpath])
        return self.stage.blob_name(f.relpath)

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

    @property
    def pending(self) -> bool:
        return bool(self.missing or self.copies or self.checksums_missing)


def digest_files(files: Sequence[InputFile], workers: int = 4) -> dict[str, str]:
    # hashlib releases the GIL on large buffers, so threads hash several files at once.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip((f.relpath for f in files), pool.map(lambda f: file_digest(f.path), files), strict=True))


def stored_blobs(container: ContainerClient, prefix: str) -> dict[str, str | None]:
    """Name → the `sha256` metadata of every blob under `prefix` (None: a blob written without it)."""
    return {b.name: (b.metadata or {}).get("sha256") for b in _list(container, prefix, metadata=True)}


def _list(container: ContainerClient, prefix: str, metadata: bool = False) -> list:
    """The blobs under `prefix` with their properties: one (paged) list call."""
    try:
        return list(container.list_blobs(name_starts_with=prefix, include=["metadata"] if metadata else None))
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
    stage = Staging.of(workload, digests, files)
    stored = stored_blobs(container, f"{workload.name}/") if container is not None else {}
    by_digest = {d: name for name, d in stored.items() if d}
    missing, copies = [], []
    plan = SyncPlan(tuple(files), digests, (), stage)
    for f in files:
        name = plan.blob_name(workload, f)
        if name in stored:
            continue
        source = by_digest.get(digests[f.relpath])
        if source is None:
            missing.append(f)
            by_digest[digests[f.relpath]] = name  # a second file with the same bytes copies this one
        else:
            copies.append((name, source))
    # Copies of a file uploaded in this sync wait for its upload: they run after every upload.
    list_missing = stage.marker is not None and stage.marker not in stored
    blobs = list_blob_inputs(workload, container, container_for) if container is not None else ()
    return dataclasses.replace(plan, missing=tuple(missing), checksums_missing=list_missing, blobs=blobs,
                               copies=tuple(copies))


def upload_missing(workload: Workload, plan: SyncPlan, container: ContainerClient, workers: int = 16,
                   on_upload: Callable[[InputFile], None] | None = None) -> None:
    """Uploads, then server-side copies, then the snapshot's checksum list: each step starts once the one
    before has committed, so a present list still means a complete snapshot."""
    def upload(f: InputFile) -> None:
        digest = plan.digests[f.relpath]
        with open(f.path, "rb") as data:
            container.upload_blob(plan.blob_name(workload, f), data, length=f.size, overwrite=True,
                                  metadata={"sha256": digest},
                                  max_concurrency=4 if f.size > LARGE_FILE else 1)
        if on_upload:
            on_upload(f)
        kill_point("uploading")

    threads = (os.cpu_count() or 2) * 8
    with ThreadPoolExecutor(max_workers=min(workers, max(1, len(plan.missing)), threads)) as pool:
        for _ in pool.map(upload, plan.missing):
            pass
    with ThreadPoolExecutor(max_workers=min(workers, max(1, len(plan.copies)), threads)) as pool:
        for _ in pool.map(lambda c: copy_blob(container, *c), plan.copies):
            pass
    if plan.checksums_missing and plan.checksums is not None and plan.stage.marker is not None:
        container.upload_blob(plan.stage.marker, plan.checksums.data, overwrite=True,
                              metadata={"sha256": plan.checksums.digest})


COPY_POLL = 0.2


def copy_blob(container: ContainerClient, name: str, source: str, timeout: float = 600.0) -> None:
    """Copy Blob within the inputs container's account: the destination's credential authorizes the read of
    the source. The service may finish it later (`pending`): wait for it, since the snapshot's list must
    only be written once every file is in. https://learn.microsoft.com/rest/api/storageservices/copy-blob"""
    blob = container.get_blob_client(name)
    status: str | None = str(blob.start_copy_from_url(container.get_blob_client(source).url)["copy_status"])
    deadline = time.monotonic() + timeout
    while status == "pending" and time.monotonic() < deadline:
        time.sleep(COPY_POLL)
        status = blob.get_blob_properties().copy.status
    if status != "success":
        raise DeployError(f"copying input blob {source} to {name} did not succeed ({status}); apply again")
