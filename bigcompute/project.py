"""The project root: the folder holding `Pulumi.yaml` (or a `.bigcompute/` folder, for a repository of workloads
whose Pulumi program lives elsewhere), found by walking up from where the user stands. Every command resolves
its default paths (`workloads/`, `.bigcompute/local/`, the Pulumi program) against it, so a command run from a
subdirectory acts on the same project, and one run outside any project fails instead of falling back to the
checkout this package happens to be installed from."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

MARKERS = ("Pulumi.yaml", ".bigcompute")
PRIVATE = ".bigcompute"  # local credentials, the local target's data: never committed
WORKLOADS = "workloads"


class NoProject(Exception):
    """No folder from the start folder up holds a marker."""


def nearest(holds: Callable[[Path], bool], start: Path | None = None) -> tuple[Path, Path | None]:
    """The start folder (resolved) and the nearest of it and its parents for which `holds` is true, if any."""
    origin = (start or Path.cwd()).resolve()
    return origin, next((f for f in (origin, *origin.parents) if holds(f)), None)


def find_root(start: Path | None = None) -> Path:
    origin, root = nearest(lambda f: (f / "Pulumi.yaml").is_file() or (f / PRIVATE).is_dir(), start)
    if root is not None:
        return root
    raise NoProject(f"no bigcompute project here: looked for Pulumi.yaml or a {PRIVATE}/ folder in {origin} and "
                    f"each of its parents; run from your project (or create {PRIVATE}/ at its root)")


def private_dir(root: Path) -> Path:
    """`<root>/.bigcompute/`, created with a `.gitignore` that ignores everything in it, so `git add -A` never
    commits the local target's account keys even where the repository's own .gitignore does not list it."""
    folder = root / PRIVATE
    folder.mkdir(exist_ok=True)  # traversable: a task user reaches its node folders through it; local/ is 0700
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# written by bigcompute: local credentials and state, never committed\n*\n")
    return folder


def local_dir(root: Path | None = None) -> Path:
    """Where the local target keeps its outputs, credentials and data: `<root>/.bigcompute/local`."""
    return (root or find_root()) / PRIVATE / "local"


def workloads_dir(root: Path | None = None) -> Path:
    return (root or find_root()) / WORKLOADS


def shown(path: Path) -> str:
    """A path as messages show it: relative to where the user stands (`workloads`, `../workloads`)."""
    return os.path.relpath(path, Path.cwd().resolve())
