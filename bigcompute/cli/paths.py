"""Default paths of the commands, resolved against the project root, and workloads named by their `name:`
(light: `validate` and shell completion import it too)."""

from __future__ import annotations

from pathlib import Path

from bigcompute.cli.exit import EXIT_INVALID, Exit
from bigcompute.project import NoProject, find_root, shown, workloads_dir


def workload_paths(paths: tuple[str, ...]) -> tuple[str, ...]:
    """The workload files or folders named (a workload's name stands for its file in the project's workloads
    folder), else that folder wherever the user stands in the project; outside any project, exit 2 saying what
    was looked for and where (never this package's own checkout)."""
    if paths:
        names = workload_names() if any(not Path(p).exists() for p in paths) else {}
        return tuple(shown(names[p]) if not Path(p).exists() and p in names else p for p in paths)
    try:
        return (shown(workloads_dir(find_root())),)
    except NoProject as e:
        raise Exit(EXIT_INVALID, f"error: {e}") from None


def workload_names() -> dict[str, Path]:
    """Each workload of the project's workloads folder by its `name:` (read as YAML, nothing checked: the commands
    check what they load); empty outside a project."""
    import yaml

    from bigcompute.workload.loader import workload_files

    try:
        folder = workloads_dir(find_root())
    except NoProject:
        return {}
    found: dict[str, Path] = {}
    for path in workload_files([folder]) if folder.is_dir() else ():
        try:
            doc = yaml.safe_load(path.read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("name"), str):
            found.setdefault(doc["name"], path)
    return found


def outputs_dir() -> Path:
    """Where outputs are downloaded by default: the project's `out/`, wherever the user stands in it."""
    try:
        return Path(shown(find_root() / "out"))
    except NoProject as e:
        raise Exit(EXIT_INVALID, f"error: {e}") from None
