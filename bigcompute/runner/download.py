"""Outputs of a completed job: a manifest (task id → blobs, sizes, content hashes) and a download that
never writes outside its folder, verifies every file, and never mixes the files of two jobs."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from bigcompute.runner.errors import DeployError
from bigcompute.runner.killpoint import kill_point
from bigcompute.workload.globs import glob_match

MANIFEST = "manifest.json"
log = logging.getLogger("bigcompute.runner")


@dataclass(frozen=True)
class OutputBlob:
    task: str
    path: str  # relative to <job id>/<task id>/
    size: int
    md5: str | None

    @property
    def relative(self) -> str:
        return f"{self.task}/{self.path}"


def list_outputs(outputs: ContainerClient, job_id: str) -> list[OutputBlob]:
    found = []
    for b in outputs.list_blobs(name_starts_with=f"{job_id}/"):
        rest = b.name[len(job_id) + 1:]
        if "/" not in rest:
            continue  # the manifest itself
        task, path = rest.split("/", 1)
        md5 = b.content_settings.content_md5 if b.content_settings else None
        found.append(OutputBlob(task, path, b.size, base64.b64encode(md5).decode() if md5 else None))
    return found


def manifest(job_id: str, blobs: Iterable[OutputBlob], known: dict | None = None) -> dict:
    """task → files with size, MD5 (when storage has one) and SHA-256 (once a download has computed it). `known`,
    an earlier manifest of the job, supplies the SHA-256 of files whose size has not changed."""
    hashes = {(task, f["path"], f["size"]): f.get("sha256") for task, files in (known or {}).get("tasks", {}).items()
              for f in files}
    tasks: dict[str, list[dict]] = {}
    for b in sorted(blobs, key=lambda b: (b.task, b.path)):
        tasks.setdefault(b.task, []).append({"path": b.path, "size": b.size, "md5": b.md5,
                                             "sha256": hashes.get((b.task, b.path, b.size))})
    return {"job": job_id, "tasks": tasks}


def write_manifest(outputs: ContainerClient, job_id: str) -> dict:
    body = manifest(job_id, list_outputs(outputs, job_id), _stored_manifest(outputs, job_id))
    _upload_manifest(outputs, job_id, body)
    return body


def read_manifest(outputs: ContainerClient, job_id: str) -> dict:
    return _stored_manifest(outputs, job_id) or manifest(job_id, list_outputs(outputs, job_id))


def _stored_manifest(outputs: ContainerClient, job_id: str) -> dict | None:
    try:
        return json.loads(outputs.download_blob(f"{job_id}/{MANIFEST}").readall())
    except ResourceNotFoundError:
        return None


def _upload_manifest(outputs: ContainerClient, job_id: str, body: dict) -> None:
    outputs.upload_blob(f"{job_id}/{MANIFEST}", json.dumps(body, indent=2).encode(), overwrite=True)


def safe_destination(folder: Path, relative: str) -> Path:
    """The local path of a blob inside `folder`; refuses any name that would land outside it."""
    root = folder.resolve()
    target = (root / relative).resolve()
    if relative.startswith(("/", "\\")) or "\\" in relative or not target.is_relative_to(root) or target == root:
        raise DeployError(f"refusing to download blob '{relative}': it would be written outside {folder}")
    return target


@dataclass(frozen=True)
class Downloaded:
    files: list[Path]  # every wanted output, now in the folder
    fetched: int  # how many were downloaded (the others were already there, from the same job)
    removed: list[str]  # files an earlier job left in the folder that this job does not have


def download(outputs: ContainerClient, job_id: str, body: dict, folder: Path,
             patterns: Iterable[str] = ()) -> Downloaded:
    """Fetch the job's outputs listed in `body` (its manifest) into `folder`, verifying each file's size and
    SHA-256. The folder's own copy of the manifest records which job its files come from: a file is skipped only
    when it is that job's and unchanged, and the files an earlier job left there are removed, so the folder never
    mixes two jobs. SHA-256s computed here are written back to the job's manifest blob for later downloads."""
    patterns = list(patterns)
    entries = {f"{task}/{f['path']}": f for task, files in body["tasks"].items() for f in files}
    wanted = {rel: f for rel, f in entries.items() if not patterns or any(glob_match(p, rel) for p in patterns)}
    targets = {rel: safe_destination(folder, rel) for rel in wanted}  # every name checked before any write
    record = _local_record(folder)
    same_job = record.get("job") == job_id
    recorded = _recorded_hashes(record)

    def fetch(rel: str) -> tuple[bool, bool]:
        """(downloaded, SHA-256 newly learned)"""
        f, dest = wanted[rel], targets[rel]
        known = f.get("sha256")
        if same_job and recorded.get(rel) and known in (None, recorded[rel]) and dest.is_file() \
                and dest.stat().st_size == f["size"] and _sha256(dest) == recorded[rel]:
            f["sha256"] = recorded[rel]
            return False, not known
        f["sha256"] = _fetch(outputs, f"{job_id}/{rel}", dest, f["size"], known, rel)
        kill_point("downloading")
        return True, not known

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(fetch, wanted))
    if any(learned for _, learned in results):
        _write_back(outputs, job_id, body)
    earlier = record.get("downloaded") if same_job and isinstance(record.get("downloaded"), list) else []
    kept = [rel for rel in earlier if rel in entries and rel not in wanted]
    removed = [] if same_job else _remove_stale(folder, record, set(wanted))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).write_text(json.dumps({**body, "downloaded": sorted({*wanted, *kept})}, indent=2) + "\n")
    return Downloaded([targets[rel] for rel in wanted], sum(fetched for fetched, _ in results), removed)


def _fetch(outputs: ContainerClient, blob: str, dest: Path, size: int, sha256: str | None, rel: str) -> str:
    """Stream one blob to `dest` through a .partial file, hashing as it goes; the file gets its real name only
    once its size and SHA-256 are right (a killed or failed download leaves nothing under that name)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    digest, written = hashlib.sha256(), 0
    try:
        with open(partial, "wb") as out:
            for chunk in outputs.download_blob(blob).chunks():
                out.write(chunk)
                digest.update(chunk)
                written += len(chunk)
        actual = digest.hexdigest()
        if written != size or (sha256 and actual != sha256):
            dest.unlink(missing_ok=True)  # an older copy under that name must not pass for this job's
        if written != size:
            raise DeployError(f"output {rel}: downloaded {written:,} bytes where the manifest says {size:,}; "
                              "the blob changed since the job wrote it")
        if sha256 and actual != sha256:
            raise DeployError(f"output {rel}: its SHA-256 {actual[:12]}… differs from the manifest's "
                              f"{sha256[:12]}…; the blob changed since the job wrote it")
        partial.replace(dest)
        return actual
    finally:
        partial.unlink(missing_ok=True)


def _write_back(outputs: ContainerClient, job_id: str, body: dict) -> None:
    try:
        _upload_manifest(outputs, job_id, body)
    except HttpResponseError as e:  # e.g. a reader without write access: this download is verified all the same
        log.warning("could not record SHA-256s in %s/%s: %s", job_id, MANIFEST, e.reason)


def _local_record(folder: Path) -> dict:
    try:
        record = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    tasks = record.get("tasks") if isinstance(record, dict) else None
    well_formed = isinstance(tasks, dict) and all(isinstance(files, list) for files in tasks.values())
    return record if well_formed else {}


def _recorded_hashes(record: dict) -> dict[str, str]:
    tasks = record.get("tasks", {})
    return {f"{task}/{f['path']}": f["sha256"] for task, files in tasks.items() for f in files
            if isinstance(f, dict) and isinstance(f.get("path"), str) and isinstance(f.get("sha256"), str)}


def _remove_stale(folder: Path, record: dict, keep: set[str]) -> list[str]:
    """Delete the files the folder's record names from an earlier job that the new download does not bring; a file
    the record does not name (the user's own) is never touched."""
    named = record.get("downloaded")
    if not isinstance(named, list):  # a record from before "downloaded" existed: every file it lists
        named = [f"{task}/{f.get('path')}" for task, files in record.get("tasks", {}).items()
                 for f in files if isinstance(f, dict)]
    removed = []
    for rel in sorted({r for r in named if isinstance(r, str)} - keep):
        try:
            path = safe_destination(folder, rel)
        except DeployError:
            continue  # a record edited to point outside the folder: never follow it
        if path.is_file():
            path.unlink()
            removed.append(rel)
            _prune_empty_dirs(path.parent, folder.resolve())
    return removed


def _prune_empty_dirs(start: Path, root: Path) -> None:
    while start != root and start.is_relative_to(root) and not any(start.iterdir()):
        start.rmdir()
        start = start.parent


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()
