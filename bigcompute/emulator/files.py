"""Task files as Batch serves them: paths relative to the task directory (`stdout.txt`, `wd/out.txt`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bigcompute.emulator.errors import BatchError
from bigcompute.emulator.wire import iso

_NOT_FOUND = BatchError(404, "FileNotFound", "The specified file does not exist.")


@dataclass(frozen=True)
class FileInfo:
    path: Path
    name: str
    is_dir: bool
    size: int
    created: float
    modified: float
    mode: str


def _info(path: Path, name: str) -> FileInfo:
    st = path.stat()
    return FileInfo(path, name, path.is_dir(), 0 if path.is_dir() else st.st_size, st.st_ctime, st.st_mtime,
                    format(st.st_mode & 0o7777, "o"))


def resolve(task_dir: Path | None, rel: str) -> FileInfo:
    if task_dir is None:
        raise _NOT_FOUND
    rel = rel.replace("\\", "/").strip("/")
    target = (task_dir / rel).resolve()
    if not target.is_relative_to(task_dir.resolve()) or not target.exists():
        raise _NOT_FOUND
    return _info(target, rel)


def listing(task_dir: Path | None, recursive: bool) -> list[FileInfo]:
    if task_dir is None or not task_dir.is_dir():
        return []
    out: list[FileInfo] = []
    if not recursive:
        return [_info(p, p.name) for p in sorted(task_dir.iterdir())]
    for root, dirs, files in os.walk(task_dir):
        dirs.sort()
        for name in sorted(dirs) + sorted(files):
            p = Path(root) / name
            out.append(_info(p, p.relative_to(task_dir).as_posix()))
    return out


def wire_file(info: FileInfo, base_url: str) -> dict[str, Any]:
    props: dict[str, Any] = {"creationTime": iso(info.created), "lastModified": iso(info.modified),
                             "contentLength": str(info.size), "fileMode": info.mode}
    if not info.is_dir:
        props["contentType"] = "application/octet-stream"
    return {"name": info.name, "url": f"{base_url}/files/{info.name}", "isDirectory": info.is_dir,
            "properties": props}


def byte_range(header: str | None, size: int) -> tuple[int, int]:
    """`ocp-range: bytes=a-b` -> (start, end_exclusive); Batch still answers 200 for a range."""
    if not header or not header.startswith("bytes="):
        return 0, size
    first, _, last = header[6:].partition("-")
    try:
        start = int(first) if first else max(0, size - int(last))
        end = min(size, int(last) + 1) if first and last else size
    except ValueError as exc:
        raise BatchError(400, "InvalidHeaderValue", "The ocp-range header is not a valid byte range.",
                         {"HeaderName": "ocp-range"}) from exc
    return start, max(start, end)
