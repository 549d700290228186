"""Resolve a workload's `inputs:` to files, relative to the workload file and never outside the repository."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

GLOB_CHARS = set("*?[")


class InputError(ValueError):
    pass


@dataclass(frozen=True)
class InputFile:
    relpath: str  # POSIX path relative to the workload file's folder; also the path in the task's working dir
    path: Path
    size: int


@dataclass(frozen=True)
class BlobInput:
    prefix: str
    to: str = ""


def check_relative(text: str, what: str) -> PurePosixPath:
    """A relative POSIX path that stays inside its base: no absolute paths, no `..`, no backslashes."""
    if "\\" in text:
        raise InputError(f"{what} {text!r} must use '/' as separator")
    path = PurePosixPath(text)
    if path.is_absolute() or text.startswith("~") or (len(text) > 1 and text[1] == ":"):
        raise InputError(f"{what} {text!r} must be relative, not absolute")
    if ".." in path.parts:
        raise InputError(f"{what} {text!r} must not contain '..'")
    return path


def repository_root(start: Path) -> Path:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def resolve_inputs(entry: str, base: Path, root: Path) -> list[InputFile]:
    """The files one `inputs:` path or glob names, sorted; raises InputError when it names none."""
    pattern = check_relative(entry, "input path")
    try:
        if GLOB_CHARS & set(entry):
            candidates = sorted(p for p in base.glob(str(pattern)) if p.is_file())
        elif (base / pattern).is_dir():
            candidates = sorted(p for p in (base / pattern).rglob("*") if p.is_file())
        elif (base / pattern).is_file():
            candidates = [base / pattern]
        else:
            candidates = None
    except ValueError as e:  # pathlib's own pattern rules, e.g. '**' not a whole path component
        raise InputError(f"input {entry!r} is not a valid glob: {e}") from None
    except OSError as e:  # e.g. a name longer than the file system allows
        raise InputError(f"input {entry!r} cannot be read: {e.strerror or e}") from None
    if candidates is None:
        raise InputError(f"input {entry!r} does not exist (looked in {base})")
    if not candidates:
        raise InputError(f"input glob {entry!r} matches no files in {base}")
    files = []
    for path in candidates:
        real = path.resolve()
        if not real.is_relative_to(root):
            raise InputError(f"input {path.relative_to(base).as_posix()!r} resolves outside the repository ({real})")
        files.append(InputFile(path.relative_to(base).as_posix(), path, real.stat().st_size))
    return files


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()
