"""Outputs of a completed job: a manifest (task id → blobs, sizes, content hashes) and a download that
never writes outside its folder and skips files it already has."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient

from bigcompute.runner.errors import DeployError
from bigcompute.workload.globs import glob_match

MANIFEST = "manifest.json"


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


def manifest(job_id: str, blobs: Iterable[OutputBlob]) -> dict:
    tasks: dict[str, list[dict]] = {}
    for b in sorted(blobs, key=lambda b: (b.task, b.path)):
        tasks.setdefault(b.task, []).append({"path": b.path, "size": b.size, "md5": b.md5})
    return {"job": job_id, "tasks": tasks}


def write_manifest(outputs: ContainerClient, job_id: str) -> dict:
    body = manifest(job_id, list_outputs(outputs, job_id))
    outputs.upload_blob(f"{job_id}/{MANIFEST}", json.dumps(body, indent=2).encode(), overwrite=True)
    return body


def read_manifest(outputs: ContainerClient, job_id: str) -> dict:
    try:
        return json.loads(outputs.download_blob(f"{job_id}/{MANIFEST}").readall())
    except ResourceNotFoundError:
        return manifest(job_id, list_outputs(outputs, job_id))


def safe_destination(folder: Path, relative: str) -> Path:
    """The local path of a blob inside `folder`; refuses any name that would land outside it."""
    root = folder.resolve()
    target = (root / relative).resolve()
    if relative.startswith(("/", "\\")) or "\\" in relative or not target.is_relative_to(root) or target == root:
        raise DeployError(f"refusing to download blob '{relative}': it would be written outside {folder}")
    return target


def download(outputs: ContainerClient, job_id: str, body: dict, folder: Path,
             patterns: Iterable[str] = ()) -> list[Path]:
    patterns = list(patterns)
    wanted = [(task, f) for task, files in body["tasks"].items() for f in files
              if not patterns or any(glob_match(p, f"{task}/{f['path']}") for p in patterns)]
    jobs = [(task, f, safe_destination(folder, f"{task}/{f['path']}")) for task, f in wanted]

    def fetch(item) -> Path:
        task, f, dest = item
        if dest.is_file() and dest.stat().st_size == f["size"] and (not f["md5"] or _md5(dest) == f["md5"]):
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        with open(partial, "wb") as out:
            outputs.download_blob(f"{job_id}/{task}/{f['path']}").readinto(out)
        partial.replace(dest)  # atomic: a killed download never leaves a truncated file under the real name
        return dest

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(fetch, jobs))


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return base64.b64encode(h.digest()).decode()
