"""Resolve a workload's `inputs:` to files, relative to the workload file and never outside the repository."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bigcompute.document.files import NotRegularFile, require_regular

GLOB_CHARS = set("*?[")
PRIVATE_FOLDERS = frozenset({".git", ".bigcompute"})


class InputError(ValueError):
    pass


@dataclass(frozen=True)
class InputFile:
    relpath: str  # POSIX path relative to the workload file's folder; also the path in the task's working dir
    path: Path  # the real path, symlinks resolved when checked: what is read and uploaded
    size: int


@dataclass(frozen=True)
class BlobInput:
    prefix: str
    to: str = ""
    container: str | None = None  # None: the stack's inputs container; else a name or URL (workload.storage)


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
    """The files one `inputs:` path or glob names, sorted; raises InputError when it names none, or names
    one that is not a regular file or that a symlink takes out of `base` (see `_check_target`)."""
    pattern = check_relative(entry, "input path")
    path = base / pattern
    try:
        # not only regular files: a FIFO or a device is refused below rather than silently skipped
        if GLOB_CHARS & set(entry):
            candidates = sorted(p for p in base.glob(str(pattern)) if not p.is_dir())
        elif path.is_dir():
            found = list(path.rglob("*"))
            _refuse_linked_folders(entry, found, base)
            candidates = sorted(p for p in found if not p.is_dir())
        elif path.exists() or path.is_symlink():
            candidates = [path]
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
    shown = [p.relative_to(base).as_posix() for p in candidates]
    base, root = base.resolve(), root.resolve()
    files = [_input_file(p, rel, base, root) for p, rel in zip(candidates, shown, strict=True)]
    _refuse_ignored_targets([f for f in files if f.path != base / f.relpath], root)
    return files


def _refuse_linked_folders(entry: str, found: list[Path], base: Path) -> None:
    """A folder input does not descend into a symlinked folder: say so rather than leave its files out."""
    linked = next((p for p in found if p.is_symlink() and p.is_dir()), None)
    if linked is not None:
        rel = linked.relative_to(base).as_posix()
        raise InputError(f"input {entry!r} holds {rel!r}, a symlink to a folder, which a folder input does not "
                         f"follow: list its files as an input of their own (e.g. '{rel}/*'), or copy them")


def _input_file(path: Path, rel: str, base: Path, root: Path) -> InputFile:
    real = path.resolve()
    _check_target(rel, real, base, root)
    try:
        size = require_regular(real).st_size
    except NotRegularFile as e:
        raise InputError(f"input {rel!r} is {e}") from None
    except OSError as e:
        raise InputError(f"input {rel!r} cannot be read: {e.strerror or e}") from None
    return InputFile(rel, real, size)


def _check_target(rel: str, real: Path, base: Path, root: Path) -> None:
    """Symlinks (the file or any folder on its path) must stay inside the inputs' own tree, the workload's
    folder: a link to `../../.bigcompute/local/credentials.json` would upload the target's key. Nothing in
    `.git/` or `.bigcompute/` is an input, linked or not."""
    where = _shown(real, root)
    if not real.is_relative_to(root):
        raise InputError(f"input {rel!r} resolves outside the repository ({real})")
    if real != base / rel and not real.is_relative_to(base):
        raise InputError(f"input {rel!r} is a symlink to {where}, outside the workload's folder {_shown(base, root)}: "
                         "copy the file into the folder, or move the workload beside its data")
    private = PRIVATE_FOLDERS & set(real.relative_to(root).parts)
    if private:
        raise InputError(f"input {rel!r} points into {sorted(private)[0]}/ ({where}), which holds the repository's "
                         "or the local target's private files; it is never an input")


def _refuse_ignored_targets(linked: list[InputFile], root: Path) -> None:
    """A symlink may not point at a file git ignores: ignored files are where secrets live (`.env`, keys).
    One `git check-ignore` for all of them. Outside a git work tree (no `.git`, or an empty `.git` folder
    marking a project root) only the tree rule applies; in a real work tree, a git that cannot answer
    refuses the links rather than letting them through unchecked."""
    if not linked or not _is_git_work_tree(root):
        return
    names = {f.path.relative_to(root).as_posix(): f for f in linked}
    try:
        run = subprocess.run(["git", "-C", str(root), "check-ignore", "-z", "--stdin"], input="\0".join(names),
                             capture_output=True, text=True, timeout=60)
        failure = "" if run.returncode in (0, 1) else (run.stderr.strip().splitlines() or [f"exit {run.returncode}"])[0]
    except (OSError, subprocess.TimeoutExpired) as e:  # 0: some ignored; 1: none; else git failed
        failure = f"git could not run ({e.strerror if isinstance(e, OSError) and e.strerror else e})"
    if failure:
        first = linked[0]
        raise InputError(f"input {first.relpath!r} is a symlink to {_shown(first.path, root)}, and git cannot tell "
                         f"whether it ignores that file ({failure}): ignored files often hold secrets, so links are "
                         "inputs only where git can check them; copy the file instead, or fix git")
    ignored = [names[n] for n in run.stdout.split("\0") if n in names]
    if ignored:
        first = ignored[0]
        raise InputError(f"input {first.relpath!r} is a symlink to {_shown(first.path, root)}, which git ignores: "
                         "ignored files often hold secrets, so a link to one is never an input")


def _is_git_work_tree(root: Path) -> bool:
    """A `.git` file (a worktree or submodule) or a `.git` folder holding a repository (HEAD)."""
    dot_git = root / ".git"
    return dot_git.is_file() or (dot_git / "HEAD").exists()


def _shown(path: Path, root: Path) -> str:
    return repr(path.relative_to(root).as_posix()) if path.is_relative_to(root) else str(path)


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()
