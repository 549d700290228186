"""Default paths of the commands, resolved against the project root (light: `validate` imports it too)."""

from __future__ import annotations

from pathlib import Path

from bigcompute.cli.exit import EXIT_INVALID, Exit
from bigcompute.project import NoProject, find_root, shown, workloads_dir


def workload_paths(paths: tuple[str, ...]) -> tuple[str, ...]:
    """The workload files or folders named, else the project's `workloads/` folder wherever the user stands in
    it; outside any project, exit 2 saying what was looked for and where (never this package's own checkout)."""
    if paths:
        return paths
    try:
        return (shown(workloads_dir(find_root())),)
    except NoProject as e:
        raise Exit(EXIT_INVALID, f"error: {e}") from None


def outputs_dir() -> Path:
    """Where outputs are downloaded by default: the project's `out/`, wherever the user stands in it."""
    try:
        return Path(shown(find_root() / "out"))
    except NoProject as e:
        raise Exit(EXIT_INVALID, f"error: {e}") from None
