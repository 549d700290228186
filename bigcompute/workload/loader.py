"""Load and check workload files: syntax, schema, then semantics; every problem located, all reported."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from bigcompute.document import Diagnostic, DocumentError, check_schema, load_document
from bigcompute.document.schema import packaged_validator
from bigcompute.workload import checks
from bigcompute.workload.build import build_workload
from bigcompute.workload.inputs import InputFile, repository_root
from bigcompute.workload.model import Workload
from bigcompute.workload.storage_checks import check_storage

WORKLOAD_SUFFIXES = (".yaml", ".yml")


class WorkloadError(DocumentError):
    """A workload file is invalid; carries every located diagnostic."""


@dataclass(frozen=True)
class LoadedWorkload:
    workload: Workload
    files: tuple[InputFile, ...]  # resolved input files, sorted by relative path
    warnings: tuple[Diagnostic, ...] = ()  # what `validate` reports without failing


def load_workload(path: str | Path, *, max_tasks: int = checks.DEFAULT_MAX_TASKS,
                  pools: Iterable[str] | Mapping[str, int] | None = None, root: Path | None = None) -> LoadedWorkload:
    """Load one workload file; raises WorkloadError listing every problem found. `pools`: the stack's pool
    names, or a mapping of each to its taskSlotsPerNode (then tasks' slots are checked against it)."""
    path = Path(path)
    try:
        doc = load_document(path)
    except DocumentError as e:
        raise WorkloadError(e.diagnostics) from None
    problems = check_schema(doc, packaged_validator("bigcompute.workload", "workload.schema.json"))
    if not problems:
        problems = checks.check_values(doc) + checks.check_job_limits(doc)
    if problems:
        raise WorkloadError(problems)
    workload = build_workload(doc.data, path)
    files, problems = checks.check_inputs(doc, workload, root or repository_root(path.resolve().parent))
    problems += list(checks.check_paths(doc, workload))
    problems += list(checks.check_output_names(doc, workload))
    problems += list(check_storage(doc, workload, files))
    if pools is not None and workload.pool not in set(pools):
        known = ", ".join(sorted(pools)) or "none"
        problems.append(doc.diagnostic(("pool",), f"pool '{workload.pool}' is not a pool of the stack "
                                       f"(pools: {known})", code="unknown-pool"))
    elif isinstance(pools, Mapping):
        problems += list(checks.check_slots(doc, workload, pools[workload.pool]))
    compiled, template_problems = checks.compile_groups(doc, workload)
    problems += template_problems
    if not template_problems:
        inputs_ok = not any(p.code == "input" for p in problems)
        size_problems = list(checks.check_sizes(doc, compiled, files, max_tasks, inputs_ok))
        problems += size_problems
        if not any(p.code == "sweep-cap" for p in size_problems):
            problems += list(checks.check_tasks(doc, workload, compiled, files))
    if problems:
        raise WorkloadError(problems)
    return LoadedWorkload(workload, tuple(files), tuple(checks.check_input_names(doc, workload, files)))


def workload_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """The workload files named by `paths`: files as given, folders searched (not recursively) for YAML."""
    for p in map(Path, paths):
        if p.is_dir():
            # not only regular files: a FIFO or a device named *.yaml is refused by the loader, not skipped
            yield from sorted(f for f in p.iterdir() if f.suffix in WORKLOAD_SUFFIXES and not f.is_dir())
        else:
            yield p


def check_workloads(paths: Iterable[str | Path], **kwargs) -> Iterator[tuple[Path, LoadedWorkload | None,
                                                                             list[Diagnostic]]]:
    """(path, loaded or None, diagnostics) for each workload file: the pipeline behind `validate`.

    A workload's name is its identity (job ids derive from it): a second file with a name already used
    is invalid, located at its `name:`.
    """
    first: dict[str, Path] = {}
    for path in workload_files(paths):
        try:
            loaded = load_workload(path, **kwargs)
        except DocumentError as e:
            yield path, None, e.diagnostics
            continue
        name = loaded.workload.name
        if first.setdefault(name, path) != path:
            doc = load_document(path)
            yield path, None, [doc.diagnostic(("name",), f"workload name '{name}' is already used by {first[name]}; "
                                              "names must be unique", code="duplicate-name")]
            continue
        yield path, loaded, []
