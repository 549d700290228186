"""Files on a node as Batch serves them: paths relative to a task directory (`stdout.txt`, `wd/out.txt`) or
to the node's root (`startup/stdout.txt`), never outside it."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from bigcompute.emulator.core.errors import BatchError

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


def remove(info: FileInfo) -> None:
    if info.is_dir:
        shutil.rmtree(info.path)
    else:
        info.path.unlink()
