"""Load and check workload files: syntax, schema, then semantics; every problem located, all reported."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bigcompute.document import Diagnostic, Document, DocumentError, check_schema, load_document
from bigcompute.document.schema import packaged_validator
from bigcompute.workload import checks, multi_instance, parameters
from bigcompute.workload.build import build_workload
from bigcompute.workload.fit import PoolShape, check_fit
from bigcompute.workload.inputs import InputFile, repository_root
from bigcompute.workload.model import Workload
from bigcompute.workload.runtime_checks import check_runtime
from bigcompute.workload.schedule import check_schedule
from bigcompute.workload.storage_checks import check_storage

WORKLOAD_SUFFIXES = (".yaml", ".yml")


class WorkloadError(DocumentError):
    """A workload file is invalid; carries every located diagnostic."""


@dataclass(frozen=True)
class LoadedWorkload:
    workload: Workload
    files: tuple[InputFile, ...]  # resolved input files, sorted by relative path
    warnings: tuple[Diagnostic, ...] = ()  # what `validate` reports without failing


def _validator():
    return packaged_validator("bigcompute.workload", "workload.schema.json")


def load_workload(path: str | Path, *, max_tasks: int = checks.DEFAULT_MAX_TASKS,
                  pools: Iterable[str] | Mapping[str, int] | Mapping[str, PoolShape] | None = None,
                  root: Path | None = None,
                  given: Sequence[parameters.Given] = (), scan_tasks: bool = True) -> LoadedWorkload:
    """Load one workload file; raises WorkloadError listing every problem found. `pools`: the stack's pool
    names, a mapping of each to its taskSlotsPerNode (then tasks' slots are checked against it), or to the pool
    itself (then also the images, the OS and the slots: workload.fit; a Windows pool's commands run under cmd). `given`:
    parameter values from `--set`/`--values` (names this workload does not declare are ignored here). With the
    pools themselves, multi-instance task groups are checked against their pool too (workload.multi_instance).
    `scan_tasks=False` skips the checks that expand every task (ids, dependencies, output paths): for commands
    that only read what apply created (`status`), where a million-task sweep would spend seconds on them;
    the job's identity (spec hash) and the task count do not depend on them."""
    path = Path(path)
    try:
        doc = load_document(path)
    except DocumentError as e:
        raise WorkloadError(e.diagnostics) from None
    doc, values, problems = with_parameters(doc, given)
    if not problems:
        problems = checks.check_values(doc) + checks.check_job_limits(doc) + list(checks.check_names(doc, values))
        problems += check_runtime(doc)
        problems += check_schedule(doc)
    if problems:
        raise WorkloadError(problems)
    workload = build_workload(doc.data, path, values)
    files, problems = checks.check_inputs(doc, workload, root or repository_root(path.resolve().parent))
    problems += list(checks.check_paths(doc, workload))
    problems += list(checks.check_output_names(doc, workload))
    problems += list(check_storage(doc, workload, files))
    warnings: list[Diagnostic] = []
    problems += list(multi_instance.check_groups(doc, workload, files))
    if pools is not None and workload.pool not in set(pools):
        known = ", ".join(sorted(pools)) or "none"
        problems.append(doc.diagnostic(("pool",), f"pool '{workload.pool}' is not a pool of the stack "
                                       f"(pools: {known})", code="unknown-pool"))
    elif isinstance(pools, Mapping):
        pool = pools[workload.pool]
        problems += list(checks.check_slots(doc, workload, pool if isinstance(pool, int) else pool.task_slots_per_node))
        if not isinstance(pool, int):
            workload = replace(workload, windows=bool(getattr(pool.image, "is_windows", False)))
            fit_problems, warnings = check_fit(doc, workload, pool)
            problems += fit_problems
            problems += list(multi_instance.check_pool(doc, workload, pool))
    compiled, template_problems = checks.compile_groups(doc, workload)
    problems += template_problems
    if not template_problems:
        inputs_ok = not any(p.code == "input" for p in problems)
        size_problems = list(checks.check_sizes(doc, compiled, files, max_tasks, inputs_ok))
        problems += size_problems
        if scan_tasks and not any(p.code == "sweep-cap" for p in size_problems):
            problems += list(checks.check_tasks(doc, workload, compiled, files))
    if problems:
        raise WorkloadError(problems)
    return LoadedWorkload(workload, tuple(files), (*checks.check_input_names(doc, workload, files), *warnings))


def with_parameters(doc: Document, given: Sequence[parameters.Given]) -> tuple[Document, dict, list[Diagnostic]]:
    """The document with each `{param: NAME}` replaced by its value, the values, and the problems: the schema's
    (of the substituted document, so a value of the wrong type is located at its reference), the parameters'."""
    if not isinstance(doc.data, dict):
        return doc, {}, check_schema(doc, _validator())
    values: dict = {}
    problems: list[Diagnostic] = []
    if "parameters" in doc.data:
        block = [p for p in check_schema(doc, _validator()) if p.path[:1] == ("parameters",)]
        if block:  # the declarations themselves are malformed: nothing to resolve against
            return doc, {}, block
        values, problems = parameters.resolve(doc, given)
    data, unresolved = parameters.substitute(doc.data, values)
    doc = replace(doc, data=data)
    refs = {path for path, _ in unresolved}
    problems += [p for p in check_schema(doc, _validator()) if not any(p.path[:len(r)] == r for r in refs)]
    declared = parameters.declared(data)
    problems += [doc.diagnostic(path, f"{{param: {name}}}: " + (f"parameter {name!r} has no value" if name in
                                declared else f"no parameter {name!r} is declared in `parameters:`"),
                                code="parameter") for path, name in unresolved]
    return doc, values, problems


def workload_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """The workload files named by `paths`: files as given, folders searched (not recursively) for YAML."""
    for p in map(Path, paths):
        if p.is_dir():
            # not only regular files: a FIFO or a device named *.yaml is refused by the loader, not skipped
            yield from sorted(f for f in p.iterdir() if f.suffix in WORKLOAD_SUFFIXES and not f.is_dir())
        else:
            yield p


def check_workloads(paths: Iterable[str | Path], given: Sequence[parameters.Given] = (),
                    **kwargs) -> Iterator[tuple[Path, LoadedWorkload | None, list[Diagnostic]]]:
    """(path, loaded or None, diagnostics) for each workload file: the pipeline behind `validate`.

    A workload's name is its identity (job ids derive from it): a second file with a name already used
    is invalid, located at its `name:`. A given parameter value that no workload declares is a typo: after
    the files, one more entry (the `--set` argument or values file, with no workload) says so.
    """
    first: dict[str, Path] = {}
    known: set[str] = set()
    for path in workload_files(paths):
        if given:
            known |= _declared_names(path)
        try:
            loaded = load_workload(path, given=given, **kwargs)
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
    stray = parameters.unknown(given, known)
    if stray:
        yield Path(stray[0].file), None, stray


def _declared_names(path: Path) -> set[str]:
    try:
        return set(parameters.declared(load_document(path).data))
    except DocumentError:
        return set()
