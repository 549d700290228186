"""Semantic checks of a workload, after its schema passed. Each yields located diagnostics.

The task checks stream the expansion once: ids are remembered as 64-bit hashes, so a million-task
sweep is checked in bounded memory; a hash hit is confirmed against the real ids before it is reported.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from bigcompute.document import Diagnostic, Document
from bigcompute.document.durations import DurationError, parse_duration
from bigcompute.workload.deps import is_plain_integer
from bigcompute.workload.expand import (
    CompiledGroup,
    compile_group,
    expand_group,
    parse_field,
    template_fields,
)
from bigcompute.workload.globs import glob_match, has_wildcard, landing
from bigcompute.workload.inputs import InputError, InputFile, check_relative, resolve_inputs
from bigcompute.workload.model import Workload
from bigcompute.workload.templates import TemplateError

TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
DEPENDENCY_CHARS = 64_000
DEFAULT_MAX_TASKS = 1_000_000


def check_values(doc: Document) -> list[Diagnostic]:
    """What the schema cannot say about a schema-valid document: durations a timedelta holds, and sweep
    bounds that are finite numbers (YAML has .nan and .inf). Checked before the model is built."""
    data, problems = doc.data, []
    settings = [(("defaults",), data.get("defaults", {})), (("merge", "settings"), (data.get("merge") or {})
                                                            .get("settings", {}))]
    settings += [(("tasks", i, "settings"), g.get("settings", {})) for i, g in enumerate(data["tasks"])]
    durations = [((*at, k), s[k]) for at, s in settings for k in ("timeout", "retention") if k in s]
    if "maxWallClockTime" in data.get("job", {}):
        durations.append((("job", "maxWallClockTime"), data["job"]["maxWallClockTime"]))
    for path, text in durations:
        try:
            parse_duration(text)
        except DurationError as e:
            problems.append(doc.diagnostic(path, str(e), code="duration"))
    for i, g in enumerate(data["tasks"]):
        for name, spec in g.get("sweep", {}).items():
            bad = [k for k in ("start", "stop", "step", "from", "to", "count") if k in spec and not _finite(spec[k])]
            for key in bad:
                problems.append(doc.diagnostic(("tasks", i, "sweep", name, key),
                                               f"expected a finite number, got {spec[key]}", code="sweep-range"))
            if not bad and "start" in spec and not _finite(_ratio(spec["stop"] - spec["start"], spec.get("step", 1))):
                problems.append(doc.diagnostic(("tasks", i, "sweep", name), f"range from {spec['start']} to "
                                               f"{spec['stop']} by {spec.get('step', 1)} has too many values to count",
                                               key=True, code="sweep-cap"))
    return problems + list(check_text(doc))


RESERVED_ENV = "BIGCOMPUTE_"


def check_text(doc: Document) -> Iterator[Diagnostic]:
    """No string may hold a NUL byte: a command line and an environment are C strings, which end at it.
    Environment names starting with BIGCOMPUTE_ are bigcompute's own (BIGCOMPUTE_FILE, ...)."""
    for path, text in _strings(doc.data, ()):
        at = text.find("\0") + 1
        if at:
            yield doc.diagnostic(path, f"contains a NUL byte (at character {at}), which no "
                                 "command line or environment variable can carry", code="nul-byte")
    data = doc.data
    envs = [(("env",), data.get("env", {})), (("merge", "env"), (data.get("merge") or {}).get("env", {}))]
    envs += [(("tasks", i, "env"), g.get("env", {})) for i, g in enumerate(data["tasks"])]
    for at, env in envs:
        for name in env:
            if name.upper().startswith(RESERVED_ENV):
                yield doc.diagnostic((*at, name), f"environment variable {name}: names starting with "
                                     f"{RESERVED_ENV} are set by bigcompute (placeholder values such as "
                                     "BIGCOMPUTE_FILE)", key=True, code="env-reserved")


def _strings(value, path: tuple) -> Iterator[tuple[tuple, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer of hundreds of digits
        return False


def _ratio(a: float, b: float) -> float:
    try:
        return a / b
    except OverflowError:
        return math.inf


def check_inputs(doc: Document, wl: Workload, root) -> tuple[list[InputFile], list[Diagnostic]]:
    files: dict[str, InputFile] = {}
    problems = []
    raw_inputs = wl.raw.get("inputs", [])
    for i, entry in enumerate(raw_inputs):
        try:
            if isinstance(entry, str):
                for f in resolve_inputs(entry, wl.folder, root):
                    files.setdefault(f.relpath, f)
            elif "blob" in entry:  # URL inputs: storage_checks
                check_relative(entry["blob"], "blob prefix")
                if entry.get("to"):
                    check_relative(entry["to"], "blob destination")
        except InputError as e:
            problems.append(doc.diagnostic(("inputs", i), str(e), code="input"))
    return sorted(files.values(), key=lambda f: f.relpath), problems


def check_input_names(doc: Document, wl: Workload, files: Sequence[InputFile]) -> Iterator[Diagnostic]:
    """Warnings: a foreach file whose name holds a control character (a newline, an escape) reaches the
    task safely quoted, but makes logs and terminals lie about it."""
    for g in wl.groups:
        if g.foreach:
            for f in files:
                if glob_match(g.foreach, f.relpath) and _has_control(f.relpath):
                    yield doc.diagnostic(("tasks", g.index, "foreach", "files"), f"input file {f.relpath!r} "
                                         "has a control character or newline in its name; rename it",
                                         code="input-name")


def _has_control(name: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in name)  # C0 (newline, ESC), DEL and C1


def check_paths(doc: Document, wl: Workload) -> Iterator[Diagnostic]:
    """Output patterns and download patterns must stay inside the task folder / download folder."""
    def outputs(base, items):
        for i, out in enumerate(items):
            yield (*base, "outputs", i), out.pattern
    spots = [p for g in wl.groups for p in outputs(("tasks", g.index), g.outputs)]
    if wl.merge:
        spots += list(outputs(("merge",), wl.merge.outputs))
    spots += [(("download", i), d) for i, d in enumerate(wl.download)]
    spots += [(("tasks", g.index, "foreach", "files"), g.foreach) for g in wl.groups if g.foreach]
    for path, pattern in spots:
        try:
            check_relative(pattern, "pattern")
        except InputError as e:
            yield doc.diagnostic(path, str(e), code="path")


def compile_groups(doc: Document, wl: Workload) -> tuple[list[CompiledGroup], list[Diagnostic]]:
    compiled, problems = [], []
    for g in wl.groups:
        try:
            compiled.append(compile_group(g, wl))
        except TemplateError:
            for sub, text in template_fields(g):  # find which field is wrong, for the location
                try:
                    parse_field(sub, text, g.placeholders(wl))
                except TemplateError as e:
                    problems.append(doc.diagnostic(("tasks", g.index, *sub), str(e), code="template"))
                    break
    return compiled, problems


def check_sizes(doc: Document, compiled: Sequence[CompiledGroup], files, max_tasks: int,
                inputs_ok: bool = True) -> Iterator[Diagnostic]:
    total = 0
    for c in compiled:
        size = c.size(files)
        total += size
        where = ("tasks", c.group.index, c.group.kind if c.group.kind != "task" else "id")
        if c.group.kind == "foreach" and c.group.foreach_blobs is None and size == 0 and inputs_ok:
            yield doc.diagnostic(where, f"foreach glob {c.group.foreach!r} matches none of the workload's inputs",
                                 key=True, code="foreach-empty")
        if size > max_tasks:
            yield doc.diagnostic(where, key=True, message=f"sweep expands to {size:,} tasks, over the cap of {max_tasks:,} "
                                 "(raise it with --max-tasks)", code="sweep-cap")
            return
    if total > max_tasks:
        yield doc.diagnostic(("tasks",), f"workload expands to {total:,} tasks, over the cap of {max_tasks:,} "
                             "(raise it with --max-tasks)", code="sweep-cap")


@dataclass
class _TaskIndex:
    seen: set[int] = field(default_factory=set)
    edges: list[tuple[str, int, tuple[str, ...]]] = field(default_factory=list)
    count: int = 0
    numeric: bool = True
    chars: int = 0


def check_tasks(doc: Document, wl: Workload, compiled: Sequence[CompiledGroup], files) -> Iterator[Diagnostic]:
    index = _TaskIndex()
    for c in compiled:
        yield from _scan_group(doc, wl, c, files, index)
    if wl.merge:
        yield from _check_merge(doc, wl, compiled, files, index)
    yield from _check_dependencies(doc, wl, index)


def _scan_group(doc, wl, c: CompiledGroup, files, index: _TaskIndex) -> Iterator[Diagnostic]:
    at = ("tasks", c.group.index)
    bad_id = duplicate = bad_output = False
    templated_outputs = any(t.fields for t, _ in c.outputs)
    try:
        for task in expand_group(c, wl, files):
            index.count += 1
            tid = task.id
            if not bad_id and not TASK_ID.match(tid):
                bad_id = True
                yield doc.diagnostic((*at, "id"), f"task id {tid!r} is not a valid Batch task id: at most 64 "
                                     "letters, digits, hyphens and underscores", code="task-id")
            key = hash(tid.lower())
            if key in index.seen and not duplicate and _occurrences(wl, _upto(c, wl), files, tid, 2) > 1:
                duplicate = True
                yield doc.diagnostic((*at, "id"), f"task id {tid!r} is used by more than one task "
                                     "(ids are case-insensitive)", code="duplicate-id")
            index.seen.add(key)
            index.numeric = index.numeric and is_plain_integer(tid)
            index.chars += len(tid) + 1
            if task.depends_on:
                index.edges.append((tid, c.group.index, task.depends_on))
            if templated_outputs and not bad_output:
                for out in task.outputs:
                    if ".." in out.pattern.split("/") or out.pattern.startswith("/"):
                        bad_output = True
                        yield doc.diagnostic((*at, "outputs"), f"output pattern {out.pattern!r} of task {tid!r} "
                                             "escapes the task folder", code="path")
    except TemplateError as e:  # a value the format spec cannot take: located at the template that failed
        field = next((sub for sub, text in template_fields(c.group) if text == e.template), ("command",))
        yield doc.diagnostic((*at, *field), str(e), code="template")


def _upto(c: CompiledGroup, wl: Workload) -> list[CompiledGroup]:
    return [compile_group(g, wl) for g in wl.groups[: c.group.index + 1]]


def _occurrences(wl, compiled: Sequence[CompiledGroup], files, tid: str, enough: int) -> int:
    """Confirm a hash hit by counting real occurrences of `tid` (rare path, so a rescan is fine)."""
    target, hits = tid.lower(), 0
    for c in compiled:
        for task in expand_group(c, wl, files):
            hits += task.id.lower() == target
            if hits >= enough:
                return hits
    return hits


def _check_merge(doc, wl: Workload, compiled, files, index: _TaskIndex) -> Iterator[Diagnostic]:
    merge_id = wl.merge.id
    if not TASK_ID.match(merge_id):
        yield doc.diagnostic(("merge", "id"), f"merge id {merge_id!r} is not a valid Batch task id", code="task-id")
    if hash(merge_id.lower()) in index.seen and _occurrences(wl, compiled, files, merge_id, 1):
        yield doc.diagnostic(("merge", "id"), f"merge id {merge_id!r} is also the id of a task", code="duplicate-id")
    if not index.numeric and index.chars > DEPENDENCY_CHARS:
        yield doc.diagnostic(("merge",), f"the merge task depends on {index.count:,} tasks whose ids total "
                             f"{index.chars:,} characters, over Batch's {DEPENDENCY_CHARS:,}; use plain integer "
                             "task ids (id: '{index}') so the merge can depend on id ranges", code="dependency-size")


def _check_dependencies(doc, wl: Workload, index: _TaskIndex) -> Iterator[Diagnostic]:
    merge_key = hash(wl.merge.id.lower()) if wl.merge else None
    reported: set[int] = set()
    graph: dict[str, list[str]] = {}
    for tid, group, deps in index.edges:
        for i, dep in enumerate(deps):
            key = hash(dep.lower())
            if key == merge_key:
                yield doc.diagnostic(("tasks", group, "dependsOn", i), f"task {tid!r} depends on the merge task "
                                     f"{dep!r}, which runs after every task", code="dependency")
            elif key not in index.seen and group not in reported and not wl.unlisted:  # unlisted: the plan checks
                reported.add(group)
                yield doc.diagnostic(("tasks", group, "dependsOn", i),
                                     f"task {tid!r} depends on {dep!r}, which no task of the workload has as id",
                                     code="missing-dependency")
        graph[tid.lower()] = [d.lower() for d in deps]
    cycle = find_cycle(graph)
    if cycle:
        first = next(g for t, g, _ in index.edges if t.lower() == cycle[0])
        yield doc.diagnostic(("tasks", first, "dependsOn"),
                             f"dependency cycle: {' -> '.join(cycle + [cycle[0]])}", code="dependency-cycle")


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One cycle of the graph, or None; iterative DFS so deep chains don't hit the recursion limit."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    for start in graph:
        if start in state:
            continue
        stack = [(start, iter(graph.get(start, ())))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(child) == 1:
                return path[path.index(child):]
            elif child not in state and child in graph:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(graph[child])))
    return None


# --- workloads that could never run ---------------------------------------------------------------------

def check_job_limits(doc: Document) -> list[Diagnostic]:
    """`maxParallelTasks: 0` would hold every task of the job forever. Batch: "The value of maxParallelTasks
    must be -1 or greater than 0 if specified" (https://learn.microsoft.com/en-us/rest/api/batchservice/jobs/create-job)."""
    if (doc.data.get("job") or {}).get("maxParallelTasks") != 0:
        return []
    return [doc.diagnostic(("job", "maxParallelTasks"), "maxParallelTasks must be -1 (no limit) or at least 1: "
                           "with 0 no task of the job would ever run", code="max-parallel")]


def check_slots(doc: Document, wl: Workload, slots_per_node: int) -> Iterator[Diagnostic]:
    """A task that needs more slots than a node of its pool has is never scheduled, and the job never ends:
    "make sure the maximum requiredSlots of any task is less than or equal to the taskSlotsPerNode of the
    pool, otherwise the task will never run" (https://learn.microsoft.com/en-us/azure/batch/batch-parallel-node-tasks)."""
    spots = [(("defaults", "slots"), wl.defaults.slots)] if wl.defaults.slots else []
    spots += [(("tasks", g.index, "settings", "slots"), g.settings.slots) for g in wl.groups if g.settings.slots]
    if wl.merge and wl.merge.settings.slots:
        spots.append((("merge", "settings", "slots"), wl.merge.settings.slots))
    for path, slots in spots:
        if slots > slots_per_node:
            yield doc.diagnostic(path, f"slots: {slots} is above the taskSlotsPerNode ({slots_per_node}) of pool "
                                 f"'{wl.pool}': no node could ever run the task, so the job would never finish; "
                                 "lower slots, or raise the pool's taskSlotsPerNode in the stack", code="slots")


# --- outputs that would overwrite each other ------------------------------------------------------------

LOGS = "logs"  # wire.py uploads the task's stdout and stderr to <task>/logs/
_EXCLUSIVE = {frozenset({"success", "failure"})}  # never both uploaded by one run of a task


def check_output_names(doc: Document, wl: Workload) -> Iterator[Diagnostic]:
    """Two outputs of one task that land on one blob name lose one file: `train/metrics.json` and
    `test/metrics.json` both become `<task>/metrics.json`. So does a file where the task's logs go."""
    owners = [(("tasks", g.index), g.outputs) for g in wl.groups]
    if wl.merge:
        owners.append((("merge",), wl.merge.outputs))
    for at, outputs in owners:
        for j, out in enumerate(outputs):
            if out.has_destination:  # keeps its relative path below a folder of its own: no flattening
                continue
            problem = _logs_clash(out.pattern) or next(
                (_clash_message(out.pattern, earlier.pattern) for earlier in outputs[:j] if not earlier.has_destination
                 and frozenset({out.when, earlier.when}) not in _EXCLUSIVE and _clash(out.pattern, earlier.pattern)),
                None)
            if problem:
                yield doc.diagnostic((*at, "outputs", j, "pattern"), problem, code="output-collision")


def _clash(a: str, b: str) -> bool:
    la, lb = landing(a), landing(b)
    if has_wildcard(a) and has_wildcard(b):
        return la == lb  # `x/*.json` and `y/*.json`: every name both folders have
    if has_wildcard(a) or has_wildcard(b):
        wild, plain = (la, lb) if has_wildcard(a) else (lb, la)
        return glob_match(wild, plain)
    return la == lb


def _clash_message(pattern: str, earlier: str) -> str:
    name = landing(pattern)
    if has_wildcard(pattern) or has_wildcard(earlier):
        return (f"output {pattern!r} can land on the same names as output {earlier!r} (both upload their matches "
                f"as {name!r} below the task folder): one file would overwrite the other; put a wildcard where "
                "their folders differ, so the folders are kept")
    why = (f"output {pattern!r} lands on '<task>/{name}', as output {earlier!r} does: a plain path is uploaded "
           "by its file name alone, so one would overwrite the other")
    if "/" not in pattern.rstrip("/") or "/" not in earlier.rstrip("/"):
        return f"{why}; rename one of the files"
    folder = pattern.rsplit("/", 1)[0]
    keep = (f"{folder.rsplit('/', 1)[0]}/" if "/" in folder else "") + f"*/{name}"
    return f"{why}; a wildcard keeps the folders below its fixed ones: use {keep!r} instead of both"


def _logs_clash(pattern: str) -> str | None:
    """`<task>/logs/` holds stdout.txt and stderr.txt: an output file named `logs`, or a wildcard aimed at a
    folder like it, would overwrite them or stop them from being downloaded beside it."""
    name = landing(pattern)
    first, _, rest = name.partition("/")
    if has_wildcard(pattern):
        aimed = first not in ("*", "**") and glob_match(first, LOGS) and any(
            glob_match(rest, f) for f in ("stdout.txt", "stderr.txt"))
        if not aimed:
            return None
    elif name != LOGS:
        return None
    return (f"output {pattern!r} would land on '<task>/{name}', where the task's stdout and stderr are uploaded "
            f"('<task>/logs/'): rename it, or keep its folder with a wildcard")
