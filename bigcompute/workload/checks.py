"""Semantic checks of a workload, after its schema passed. Each yields located diagnostics.

The task checks stream the expansion once: ids are remembered as 64-bit hashes, so a million-task
sweep is checked in bounded memory; a hash hit is confirmed against the real ids before it is reported.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from bigcompute.document import Diagnostic, Document
from bigcompute.document.durations import DurationError, parse_duration
from bigcompute.workload.deps import is_plain_integer
from bigcompute.workload.expand import (
    CompiledGroup,
    compile_group,
    expand_group,
    id_prefix,
    parse_field,
    template_fields,
)
from bigcompute.workload.globs import glob_match, has_wildcard, landing
from bigcompute.workload.hashset import HashSet
from bigcompute.workload.inputs import InputError, InputFile, check_relative, resolve_inputs
from bigcompute.workload.model import Workload
from bigcompute.workload.proofs import Proof, prove_groups
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
        for at, spec in _value_specs(g):
            problems += _check_range(doc, ("tasks", i, *at), spec)
        problems += _check_generators(doc, ("tasks", i), g)
    return problems + list(check_text(doc))


def _value_specs(g: dict) -> Iterator[tuple[tuple, dict]]:
    """(path in the group, spec) of every value list of the group's generators."""
    for key in ("sweep", "zip"):
        for name, spec in g.get(key, {}).items():
            yield (key, name), spec
    if "combinations" in g:
        yield ("combinations", "of"), g["combinations"]["of"]


def _check_range(doc: Document, at: tuple, spec: dict) -> list[Diagnostic]:
    problems = []
    bad = [k for k in ("start", "stop", "step", "from", "to", "count") if k in spec and not _finite(spec[k])]
    for key in bad:
        problems.append(doc.diagnostic((*at, key), f"expected a finite number, got {spec[key]}", code="sweep-range"))
    if not bad and "start" in spec and not _finite(_ratio(spec["stop"] - spec["start"], spec.get("step", 1))):
        problems.append(doc.diagnostic(at, f"range from {spec['start']} to {spec['stop']} by {spec.get('step', 1)} "
                                       "has too many values to count", key=True, code="sweep-cap"))
    return problems


# Each distribution's arguments that must hold for a draw to exist: (test, message).
_DRAW_RULES = {
    "uniform": (lambda a: a["low"] <= a["high"], "low must be at most high"),
    "integer": (lambda a: a["low"] <= a["high"] and all(float(a[k]).is_integer() for k in ("low", "high")),
                "low and high must be integers, low at most high"),
    "normal": (lambda a: a["sd"] >= 0, "sd must be at least 0"),
    "lognormal": (lambda a: a["sd"] >= 0, "sd must be at least 0"),
    "exponential": (lambda a: a["rate"] > 0, "rate must be above 0"),
    "triangular": (lambda a: a["low"] <= a["mode"] <= a["high"], "mode must lie between low and high"),
}


def _check_generators(doc: Document, at: tuple, g: dict) -> list[Diagnostic]:
    """Zip lengths agree; random draws have finite arguments their distribution accepts."""
    from bigcompute.workload.params import parameter

    problems = []
    if "zip" in g:
        try:
            sizes = {name: parameter(name, spec).size for name, spec in g["zip"].items()}
        except (ArithmeticError, ValueError):  # reported by _check_range
            sizes = {}
        if len(set(sizes.values())) > 1:
            listed = ", ".join(f"{n} has {v:,}" for n, v in sizes.items())
            problems.append(doc.diagnostic((*at, "zip"), f"zip takes values of equal length: {listed}", key=True,
                                           code="generator"))
    for name, spec in (g.get("random") or {}).get("draws", {}).items():
        [(dist, args)] = spec.items()
        where = (*at, "random", "draws", name, dist)
        if dist == "choice":
            continue
        bad = [k for k, v in args.items() if not _finite(v)]
        if bad:
            problems.append(doc.diagnostic((where + (bad[0],)), f"expected a finite number, got {args[bad[0]]}",
                                           code="generator"))
        elif not _DRAW_RULES[dist][0](args):
            problems.append(doc.diagnostic(where, f"{dist}: {_DRAW_RULES[dist][1]}", key=True, code="generator"))
    return problems


GENERATED_RESERVED = frozenset({"index", "workload", "repeat"})  # set by bigcompute in every generated task


def check_names(doc: Document, values: Mapping[str, object]) -> Iterator[Diagnostic]:
    """Placeholder names: a generated one neither hides a built-in one nor a submit-time parameter; group names
    are unique, and `{group: NAME}` dependencies name another group."""
    data = doc.data
    names: dict[str, int] = {}
    for i, g in enumerate(data["tasks"]):
        for at, name in _generated(g):
            if name in GENERATED_RESERVED:
                yield doc.diagnostic(("tasks", i, *at), f"placeholder {name!r} is set by bigcompute ({{{name}}}); "
                                     "choose another name", key=True, code="generator")
            elif name in values or name in (data.get("parameters") or {}):
                yield doc.diagnostic(("tasks", i, *at), f"placeholder {name!r} is also a parameter of the workload "
                                     "(`parameters:`); one name, one meaning: rename one", key=True, code="generator")
        if "name" in g and names.setdefault(g["name"], i) != i:
            yield doc.diagnostic(("tasks", i, "name"), f"group name {g['name']!r} is already the name of task group "
                                 f"{names[g['name']]}", code="duplicate-name")
    for i, g in enumerate(data["tasks"]):
        for j, dep in enumerate(g.get("dependsOn", [])):
            if not (isinstance(dep, dict) and "group" in dep):
                continue
            target = names.get(dep["group"])
            if target is None:
                known = ", ".join(sorted(names)) or "none (give a group a `name:`)"
                yield doc.diagnostic(("tasks", i, "dependsOn", j, "group"), f"no task group is named "
                                     f"{dep['group']!r} (named groups: {known})", code="missing-dependency")
            elif target == i:
                yield doc.diagnostic(("tasks", i, "dependsOn", j, "group"), "the group depends on itself: each of its "
                                     "tasks would wait for itself", code="dependency-cycle")
            elif dep.get("outputs") and not _fixed_prefix(data["tasks"][target]["id"]):
                yield doc.diagnostic(("tasks", i, "dependsOn", j, "outputs"), f"group {dep['group']!r} has ids that "
                                     "start with a placeholder, so its outputs have no folder of their own: start its "
                                     "id with fixed text (e.g. sim-{index})", code="dependency")


def _generated(g: dict) -> Iterator[tuple[tuple, str]]:
    for key in ("sweep", "zip"):
        for name in g.get(key, {}):
            yield (key, name), name
    for j, name in enumerate((g.get("combinations") or {}).get("names", [])):
        yield ("combinations", "names", j), name
    for name in (g.get("random") or {}).get("draws", {}):
        yield ("random", "draws", name), name


def _fixed_prefix(template: str) -> str:
    from bigcompute.workload.templates import TemplateError, split_template

    try:
        parts = split_template(template)
    except TemplateError:
        return "?"  # reported with the templates
    return parts[0][0] if parts else ""


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
        g = c.group
        where = ("tasks", g.index, g.generator.key if g.generator else g.kind if g.kind != "task" else "id")
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
    seen: HashSet = field(default_factory=HashSet)  # hash of each task id, lowercased: ~16 bytes a task
    edges: list[tuple[str, int, tuple[str, ...], tuple[tuple[int, int], ...]]] = field(default_factory=list)
    # `{group: …, outputs: true}`: (prefix, group index it belongs to, dependent group) to check ids against
    prefixes: list[tuple[str, int, int]] = field(default_factory=list)
    count: int = 0
    numeric: bool = True
    chars: int = 0


def check_tasks(doc: Document, wl: Workload, compiled: Sequence[CompiledGroup], files) -> Iterator[Diagnostic]:
    index = _TaskIndex()
    for g in wl.groups:
        for d in g.dependencies:
            target = wl.group_named(d.group) if d.group and d.outputs else None
            if target is not None:
                index.prefixes.append((id_prefix(target), target.index, g.index))
    proofs = prove_groups(compiled, wl)
    for c in compiled:
        proof = proofs.get(c.group.index)
        if proof is None:
            yield from _scan_group(doc, wl, c, files, index)
        else:  # its ids are valid and unique, its templates render: proven once per template (workload.proofs)
            index.count += proof.count
            index.chars += proof.chars
            index.numeric = False  # a proof with a merge task holds only for ids with a letter or sign
    if wl.merge:
        yield from _check_merge(doc, wl, compiled, files, index, proofs)
    yield from _check_dependencies(doc, wl, index)


def _scan_group(doc, wl, c: CompiledGroup, files, index: _TaskIndex) -> Iterator[Diagnostic]:
    at = ("tasks", c.group.index)
    bad_id = duplicate = bad_output = too_long = False
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
            if index.seen.add(key) and not duplicate and _occurrences(wl, _upto(c, wl), files, tid, 2) > 1:
                duplicate = True
                yield doc.diagnostic((*at, "id"), f"task id {tid!r} is used by more than one task "
                                     "(ids are case-insensitive)", code="duplicate-id")
            index.numeric = index.numeric and is_plain_integer(tid)
            index.chars += len(tid) + 1
            if task.depends_on or task.depends_ranges:
                index.edges.append((tid, c.group.index, task.depends_on, task.depends_ranges))
                # ids are at most 64 characters: under ~900 of them cannot reach Batch's limit
                if not too_long and len(task.depends_on) > 900 and \
                        sum(len(d) + 1 for d in task.depends_on) > DEPENDENCY_CHARS:
                    too_long = True
                    yield doc.diagnostic((*at, "dependsOn"), f"task {tid!r} depends on {len(task.depends_on):,} task "
                                         f"ids totalling over Batch's {DEPENDENCY_CHARS:,} characters; give the group "
                                         "it depends on plain integer ids (id: '{index}'), which go as id ranges",
                                         code="dependency-size")
            for prefix, owner, dependent in index.prefixes:
                if owner != c.group.index and tid.startswith(prefix):
                    index.prefixes.remove((prefix, owner, dependent))
                    yield doc.diagnostic(("tasks", dependent, "dependsOn"), f"task {tid!r} of group {c.group.index} "
                                         f"starts like the ids of the group whose outputs this group receives "
                                         f"({prefix!r}): its outputs would come too; give the groups distinct id "
                                         "prefixes", code="dependency")
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


def _check_merge(doc, wl: Workload, compiled, files, index: _TaskIndex, proofs: Mapping[int, Proof]) -> Iterator[Diagnostic]:
    merge_id = wl.merge.id
    if not TASK_ID.match(merge_id):
        yield doc.diagnostic(("merge", "id"), f"merge id {merge_id!r} is not a valid Batch task id", code="task-id")
    shaped = [c for c in compiled if c.group.index in proofs and proofs[c.group.index].shape.fullmatch(merge_id.lower())]
    if hash(merge_id.lower()) in index.seen and _occurrences(wl, compiled, files, merge_id, 1) \
            or shaped and _occurrences(wl, shaped, files, merge_id, 1):
        yield doc.diagnostic(("merge", "id"), f"merge id {merge_id!r} is also the id of a task", code="duplicate-id")
    if not index.numeric and index.chars > DEPENDENCY_CHARS:
        yield doc.diagnostic(("merge",), f"the merge task depends on {index.count:,} tasks whose ids total "
                             f"{index.chars:,} characters, over Batch's {DEPENDENCY_CHARS:,}; use plain integer "
                             "task ids (id: '{index}') so the merge can depend on id ranges", code="dependency-size")


def _check_dependencies(doc, wl: Workload, index: _TaskIndex) -> Iterator[Diagnostic]:
    merge_key = hash(wl.merge.id.lower()) if wl.merge else None
    reported: set[int] = set()
    graph: dict[str, list[str]] = {}
    ranges: dict[tuple[int, int], int] = {}  # each distinct range once: its first dependent group
    for tid, group, deps, spans in index.edges:
        for span in spans:
            ranges.setdefault(span, group)
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
        graph[tid.lower()] = [d.lower() for d in deps] + [_range_node(span) for span in spans]
    yield from _check_ranges(doc, wl, index, ranges, graph)
    cycle = [t for t in find_cycle(graph) or () if not t.startswith(_RANGE)]
    if cycle:
        first = next(g for t, g, _, _ in index.edges if t.lower() == cycle[0])
        yield doc.diagnostic(("tasks", first, "dependsOn"),
                             f"dependency cycle: {' -> '.join(cycle + [cycle[0]])}", code="dependency-cycle")


_RANGE = "\0range "  # a range's node in the cycle graph: no task id holds a NUL
MAX_RANGE_IDS = 5_000_000


def _range_node(span: tuple[int, int]) -> str:
    return f"{_RANGE}{span[0]}-{span[1]}"


def _check_ranges(doc, wl: Workload, index: _TaskIndex, ranges: dict[tuple[int, int], int],
                  graph: dict[str, list[str]]) -> Iterator[Diagnostic]:
    """Every id of a dependency range is a task of the workload (Batch would wait for the missing ones forever);
    each distinct range enters the cycle graph once, as a node pointing at its ids."""
    total = sum(b - a + 1 for a, b in ranges)
    if total > MAX_RANGE_IDS:
        group = next(iter(ranges.values()))
        yield doc.diagnostic(("tasks", group, "dependsOn"), f"dependency ranges cover {total:,} distinct task ids, over "
                             f"the {MAX_RANGE_IDS:,} validate checks; depend on a `{{group: …}}` or narrower ranges",
                             code="dependency-size")
        return
    reported: set[int] = set()
    for (a, b), group in ranges.items():
        missing = next((i for i in range(a, b + 1) if hash(str(i)) not in index.seen), None)
        if missing is not None and group not in reported and not wl.unlisted:
            reported.add(group)
            yield doc.diagnostic(("tasks", group, "dependsOn"), f"dependency range {a}..{b} includes task id "
                                 f"{missing}, which no task of the workload has", code="missing-dependency")
        graph[_range_node((a, b))] = [str(i) for i in range(a, b + 1)]


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
