"""The containers a workload names (workload.storage), met with the target at plan time, before any side
effect: each refusal is located at its field, so `plan` and `apply` exit 2 and create nothing.

- A container of another storage account needs the stack's pool identity (tasks reach storage only through
  it: no SAS, no key); a target whose outputs lack `identityResourceId` cannot use one.
- The local target holds one storage account, Azurite's development account: the emulator maps every
  container URL to it, so a container of another account would silently be a local one of the same name.
  Refused instead, naming the way to run it locally (a bare container name).
- `foreach: {blobs: …}` is listed here: one task per blob; the listing joins the job's identity
  (wire.spec_hash), and the expanded tasks are checked like any other (ids, duplicates, cap, dependencies).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from urllib.parse import urlsplit

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from bigcompute.document import Diagnostic, load_document
from bigcompute.runner.clients import Clients
from bigcompute.runner.sync import blob_version
from bigcompute.workload import LoadedWorkload, Workload, checks
from bigcompute.workload.globs import glob_match
from bigcompute.workload.storage import ListedFile, account_host, is_url


class StorageRefusal(Exception):
    """A workload's storage reference the target cannot serve; `at` is the field's JSON path."""

    def __init__(self, at: tuple, message: str):
        super().__init__(message)
        self.at = at


def references(wl: Workload) -> Iterator[tuple[tuple, str, str]]:
    """(field path, container reference, read | write) of every container the workload names."""
    blob_entries = [i for i, e in enumerate(wl.raw.get("inputs", [])) if isinstance(e, dict) and "blob" in e]
    for i, b in zip(blob_entries, wl.blob_inputs, strict=True):
        if b.container:
            yield ("inputs", i, "container"), b.container, "read"
    for g in wl.groups:
        if g.foreach_blobs is not None and g.foreach_blobs.container:
            yield ("tasks", g.index, "foreach", "container"), g.foreach_blobs.container, "read"
        for j, o in enumerate(g.outputs):
            if o.container:
                yield ("tasks", g.index, "outputs", j, "container"), o.container, "write"
    for j, o in enumerate(wl.merge.outputs if wl.merge else ()):
        if o.container:
            yield ("merge", "outputs", j, "container"), o.container, "write"


def is_foreign(ref: str, clients: Clients) -> bool:
    """A container URL of another account than the stack's (a bare name is always the stack's)."""
    return is_url(ref) and account_host(ref) != account_host(clients.target.blob_endpoint)


def check_reach(wl: Workload, clients: Clients) -> list[StorageRefusal]:
    target, refusals = clients.target, []
    for at, ref, access in references(wl):
        if not is_foreign(ref, clients):
            continue
        if target.kind == "local":
            name = urlsplit(ref).path.strip("/")
            refusals.append(StorageRefusal(at, f"{ref} is a container of another storage account, which the local "
                                           "target cannot reach (it holds only Azurite's development account); "
                                           f"to try the workload locally, write the container's name ({name!r}) "
                                           "and put the blobs in that container of the local target"))
        elif not target.identity_resource_id:
            refusals.append(StorageRefusal(at, f"{ref} is a container of another storage account: tasks {access} it "
                                           "through the stack's pool identity, and this target's stack outputs "
                                           "have no identityResourceId; deploy the stack's identity first"))
    return refusals


def check_destinations(wl: Workload, clients: Clients) -> list[StorageRefusal]:
    """An output destination in the stack's account must exist: Batch would fail every upload to it after the
    task ran (fileUploadError). Where the runner may not read a container's properties it cannot tell: left
    to Batch, as are other accounts' containers."""
    refusals, seen = [], {}
    for at, ref, access in references(wl):
        if access != "write" or is_foreign(ref, clients):
            continue
        if ref not in seen:
            seen[ref] = _exists(container_client(clients, ref, None))  # type: ignore[arg-type]
        if seen[ref] is False:
            refusals.append(StorageRefusal(at, f"output container {ref!r} does not exist in the stack's storage "
                                               "account; create it (and grant the pool identity Storage Blob Data "
                                               "Contributor on it), or fix the name"))
    return refusals


def _exists(container: ContainerClient) -> bool | None:
    try:
        return container.exists()
    except HttpResponseError as e:
        if e.status_code in (401, 403):
            return None
        raise


def container_client(clients: Clients, ref: str | None, default: ContainerClient | None) -> ContainerClient:
    """A client for a container reference, signed as the runner (a bare name: the stack's account)."""
    if ref is None:
        assert default is not None
        return default
    if not is_url(ref):
        return clients.blob.get_container_client(ref)
    parts = urlsplit(ref)
    if not is_foreign(ref, clients):
        return clients.blob.get_container_client(parts.path.strip("/"))
    return ContainerClient(f"{parts.scheme}://{parts.netloc}", parts.path.strip("/"), credential=clients.blob.credential)


def list_container(container: ContainerClient, prefix: str, at: tuple) -> list:
    """The blobs under `prefix`, or a located refusal when the container is missing or unreadable."""
    try:
        return list(container.list_blobs(name_starts_with=prefix or None))
    except ResourceNotFoundError:
        raise StorageRefusal(at, f"container {container.container_name!r} does not exist at "
                                 f"{container.url.split('?')[0]}") from None
    except HttpResponseError as e:
        if e.status_code in (401, 403):
            raise StorageRefusal(at, f"the runner may not list container {container.container_name!r} "
                                     f"({e.status_code}): grant the identity running `apply` Storage Blob Data "
                                     "Reader on it, as the pool identity needs to read it") from None
        raise


def with_listings(lw: LoadedWorkload, clients: Clients, inputs: ContainerClient,
                  max_tasks: int = checks.DEFAULT_MAX_TASKS) -> LoadedWorkload:
    """The workload with each `foreach: {blobs: …}` group's listing, or StorageRefusal."""
    wl, listings = lw.workload, {}
    for g in wl.groups:
        src = g.foreach_blobs
        if src is None:
            continue
        at = ("tasks", g.index, "foreach", "blobs")
        found = []
        for b in list_container(container_client(clients, src.container, inputs), src.prefix, at):
            if src.match and not glob_match(src.match, b.name):
                continue
            if "\0" in b.name:  # it could reach no command line; a destination path would misread it
                raise StorageRefusal(at, f"blob {b.name!r} has a NUL character in its name; rename it")
            relpath = f"{src.to.rstrip('/')}/{b.name}" if src.to else b.name
            found.append(ListedFile(relpath, b.name, src.container, b.size or 0, blob_version(b)))
            if len(found) > max_tasks:
                break  # the checks below report the cap
        if not found:
            matching = f" matching {src.match!r}" if src.match else ""
            raise StorageRefusal(at, f"blob prefix {src.prefix!r}{matching} lists no blob in container "
                                     f"{src.container or inputs.container_name!r}: a foreach over it would run "
                                     "no task; upload the blobs first, or fix the prefix")
        listings[g.index] = tuple(found)
    if not listings:
        return lw
    return dataclasses.replace(lw, workload=dataclasses.replace(wl, listings=listings))


def listed_problems(lw: LoadedWorkload, max_tasks: int = checks.DEFAULT_MAX_TASKS) -> list[Diagnostic]:
    """The task checks `validate` could not make before the listing: ids, duplicates, cap, dependencies."""
    wl = lw.workload
    if not wl.listings:
        return []
    doc = load_document(wl.path)
    compiled, problems = checks.compile_groups(doc, wl)
    problems += list(checks.check_sizes(doc, compiled, lw.files, max_tasks))
    if not any(p.code == "sweep-cap" for p in problems):
        problems += list(checks.check_tasks(doc, wl, compiled, lw.files))
    return problems
