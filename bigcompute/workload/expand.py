"""Lazy expansion of task groups into tasks: a sweep of a million tasks streams, one task at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, count, product, repeat
from operator import add
from pathlib import PurePosixPath
from shlex import quote
from typing import Any, NamedTuple

from bigcompute.workload.deps import DependencyCollector, is_plain_integer
from bigcompute.workload.generators import Generator
from bigcompute.workload.globs import glob_match
from bigcompute.workload.inputs import InputFile
from bigcompute.workload.model import OutputSpec, TaskGroup, TaskSettings, Workload
from bigcompute.workload.storage import DEFAULT_PATH, JOB, check_path_template, render_path
from bigcompute.workload.templates import (
    Field,
    Template,
    TemplateError,
    escape_braces,
    parse_template,
    split_template,
)

MERGE_GROUP = -1


class TaskSpec(NamedTuple):
    """One task before it meets Batch. A NamedTuple: a million of them are built per sweep pass."""

    id: str
    command: str
    group: int  # index in `tasks:`, or MERGE_GROUP
    settings: TaskSettings
    files: tuple[InputFile, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    outputs: tuple[OutputSpec, ...] = ()
    depends_on: tuple[str, ...] = ()
    display_name: str | None = None
    # The placeholder values, exported to the task as BIGCOMPUTE_* variables: names shared by the group,
    # values per task; turned into text only when the task is sent (validate never pays for it).
    variable_names: tuple[str, ...] = ()
    variable_values: tuple = ()
    depends_ranges: tuple[tuple[int, int], ...] = ()  # inclusive integer id ranges (Batch's taskIdRanges)
    outputs_from: tuple[str, ...] = ()  # blob prefixes below the job's outputs folder this task receives

    @property
    def variables(self) -> tuple[tuple[str, str], ...]:
        return tuple(zip(self.variable_names, map(str, self.variable_values), strict=True))

    @property
    def is_merge(self) -> bool:
        return self.group == MERGE_GROUP


@dataclass(frozen=True)
class CompiledGroup:
    """A task group with its templates parsed once, ready to stamp out tasks."""

    group: TaskGroup
    id: Template
    command: Template
    display_name: Template | None
    env: tuple[tuple[str, Template], ...]
    outputs: tuple[tuple[Template, str], ...]
    depends_on: tuple[Template, ...]
    settings: TaskSettings
    variable_names: tuple[str, ...] = ()
    # per output: (container, path template) of a destination, else None (see OutputSpec)
    destinations: tuple[tuple[str | None, Template] | None, ...] = ()
    listing: tuple = ()  # the plan's blobs of a `foreach: {blobs: …}` group (storage.ListedFile)
    ranges: tuple[tuple[Template, Template], ...] = ()  # `dependsOn: [{start, end}]` bounds
    range_outputs: tuple[bool, ...] = ()  # per range: `outputs: true`
    outputs_from: tuple[Template, ...] = ()  # ids of `{task: …, outputs: true}` dependencies
    groups: tuple[str, ...] = ()  # names of `{group: …}` dependencies
    group_outputs: tuple[str, ...] = ()  # their outputs' blob prefixes, for `{group: …, outputs: true}`

    def size(self, files: Sequence[InputFile]) -> int:
        g = self.group
        if g.kind == "sweep":
            return g.generator.size() if g.generator else 1
        if g.foreach_blobs is not None:
            return len(self.listing)
        if g.kind == "foreach":
            return sum(1 for f in files if glob_match(g.foreach or "", f.relpath))
        return 1


def compile_group(group: TaskGroup, workload: Workload) -> CompiledGroup:
    """Parse the group's templates; raises TemplateError naming the first bad one (see `template_fields`)."""
    known = group.placeholders(workload)
    deps = group.dependencies
    numbers = {k for k, v in workload.parameters.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return CompiledGroup(
        group=group,
        id=parse_template(group.id, known),
        command=parse_template(group.command, known, shell=True).trusting(
            {"index", *(group.generator.numeric if group.generator else ()), *numbers}),
        display_name=parse_template(group.display_name, known) if group.display_name else None,
        env=tuple((k, parse_template(v, known)) for k, v in group.env.items()),
        outputs=tuple((parse_template(o.pattern, known), o.when) for o in group.outputs),
        depends_on=tuple(parse_template(d, known) for d in group.depends_on),
        settings=group.settings.over(workload.defaults),
        variable_names=variable_names(group),
        destinations=tuple(_destination(o, known) for o in group.outputs),
        listing=workload.listings.get(group.index, ()),
        ranges=tuple((parse_template(d.start, known), parse_template(d.end, known)) for d in deps
                     if d.start is not None and d.end is not None),
        range_outputs=tuple(d.outputs for d in deps if d.start is not None and d.end is not None),
        outputs_from=tuple(parse_template(d.task, known) for d in deps if d.outputs and d.task is not None),
        groups=tuple(d.group for d in deps if d.group is not None),
        group_outputs=tuple(id_prefix(workload.group_named(d.group)) for d in deps  # type: ignore[arg-type]
                            if d.outputs and d.group is not None and workload.group_named(d.group)),
    )


def id_prefix(group: TaskGroup) -> str:
    """The fixed text every task id of `group` starts with: the blob prefix of their outputs."""
    parts = split_template(group.id)
    return parts[0][0] if parts else ""


PATH_PLACEHOLDERS = frozenset({JOB, "task"})


def _destination(o: OutputSpec, known: frozenset[str]) -> tuple[str | None, Template] | None:
    """An output's destination: its container and its path template, which also knows {job} and {task}."""
    if not o.has_destination:
        return None
    text = o.path if o.path is not None else DEFAULT_PATH
    check_path_template(text)
    return o.container, parse_template(text, known | PATH_PLACEHOLDERS)


_VARIABLES = {"file": "BIGCOMPUTE_FILE", "name": "BIGCOMPUTE_NAME", "stem": "BIGCOMPUTE_STEM",
              "ext": "BIGCOMPUTE_EXT", "dir": "BIGCOMPUTE_DIR", "index": "BIGCOMPUTE_INDEX",
              "repeat": "BIGCOMPUTE_REPEAT"}
PARAM_PREFIX = "BIGCOMPUTE_PARAM_"
FOREACH_KEYS = ("file", "name", "stem", "ext", "dir")


def variable_names(group: TaskGroup) -> tuple[str, ...]:
    """The environment variable of each of `variable_keys`: a generated name is a BIGCOMPUTE_PARAM_ one even when
    it is spelt like a foreach placeholder (a sweep over `name` is not the file's name)."""
    builtin = ("index", "repeat") if group.kind == "sweep" else tuple(_VARIABLES)
    return tuple(_VARIABLES[k] if k in builtin else f"{PARAM_PREFIX}{k}" for k in variable_keys(group))


def variable_keys(group: TaskGroup) -> tuple[str, ...]:
    """The placeholders exported as variables, in the order `group_values` yields their values."""
    if group.kind == "sweep":
        return (*group.generated_names, "index")
    return (*FOREACH_KEYS, "index") if group.kind == "foreach" else ("index",)


def parse_field(path: tuple[str | int, ...], text: str, known: frozenset[str]) -> Template:
    """Parse one field of `template_fields`: the command is a shell template."""
    if path[-1:] == ("path",):
        check_path_template(text)
        return parse_template(text, known | PATH_PLACEHOLDERS)
    return parse_template(text, known, shell=path == ("command",))


def template_fields(group: TaskGroup) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path inside the group, template text) of every templated field, for located errors."""
    yield ("id",), group.id
    yield ("command",), group.command
    if group.display_name:
        yield ("displayName",), group.display_name
    for key, value in group.env.items():
        yield ("env", key), value
    for i, out in enumerate(group.outputs):
        yield ("outputs", i), out.pattern
        if out.path is not None:
            yield ("outputs", i, "path"), out.path
    for i, dep in enumerate(group.dependencies):
        if dep.task is not None:
            yield ("dependsOn", i), dep.task
        for key in ("start", "end"):
            if getattr(dep, key) is not None:
                yield ("dependsOn", i, key), getattr(dep, key)


def group_values(compiled: CompiledGroup, workload: Workload,
                 files: Sequence[InputFile]) -> Iterator[tuple[dict, tuple, tuple[InputFile, ...]]]:
    """Placeholder values of each task of the group, the values of its `variable_keys` in order, and the
    input files that task receives.

    The values dict is reused between tasks (a sweep yields millions): consume it before the next one.
    """
    g = compiled.group
    if g.kind == "sweep":
        names = g.generated_names
        shared = tuple(files)
        values: dict = {**workload.parameters, "workload": workload.name}
        for index, combo in enumerate(g.generator.rows() if g.generator else iter([()])):
            values.update(zip(names, combo, strict=True))
            values["index"] = index
            yield values, (*combo, index), shared
    elif g.foreach_blobs is not None:  # the plan's listing; validate has none and expands no task
        shared = tuple(files)
        for index, f in enumerate(compiled.listing):
            values = _file_values(f.relpath, index, workload)
            yield values, (*(values[k] for k in FOREACH_KEYS), index), (f, *shared)
    elif g.kind == "foreach":
        pattern = g.foreach or ""
        own = [f for f in files if glob_match(pattern, f.relpath)]
        shared = tuple(f for f in files if not glob_match(pattern, f.relpath))
        for index, f in enumerate(own):
            values = _file_values(f.relpath, index, workload)
            yield values, (*(values[k] for k in FOREACH_KEYS), index), (f, *shared)
    else:
        yield {**workload.parameters, "index": 0, "workload": workload.name}, (0,), tuple(files)


def _file_values(relpath: str, index: int, workload: Workload) -> dict:
    p = PurePosixPath(relpath)
    return {**workload.parameters, "index": index, "workload": workload.name, "file": relpath, "name": p.name,
            "stem": p.stem, "ext": p.suffix.lstrip("."), "dir": p.parent.as_posix()}


def expand_group(compiled: CompiledGroup, workload: Workload, files: Sequence[InputFile]) -> Iterator[TaskSpec]:
    stamped = stamp_rows(compiled, workload, files)
    return stamped if stamped is not None else _expand_each(compiled, workload, files)


def _expand_each(compiled: CompiledGroup, workload: Workload, files: Sequence[InputFile]) -> Iterator[TaskSpec]:
    g = compiled.group
    static_env = tuple((k, t.text) for k, t in compiled.env) if not any(t.fields for _, t in compiled.env) else None
    static_outputs = tuple(OutputSpec(t.text, when) for t, when in compiled.outputs) \
        if not any(t.fields for t, _ in compiled.outputs) and not any(compiled.destinations) else None
    extra_ids, extra_ranges = _group_dependencies(compiled, workload, files)
    linked = bool(compiled.ranges or compiled.outputs_from or compiled.group_outputs)
    for values, variables, task_files in group_values(compiled, workload, files):
        task_id = compiled.id.render(values)
        depends_on = tuple(t.render(values) for t in compiled.depends_on) + extra_ids if compiled.depends_on \
            else extra_ids
        spans = tuple(_range(a, b, values) for a, b in compiled.ranges) if compiled.ranges else ()
        yield TaskSpec(
            id=task_id,
            command=compiled.command.render(values),
            group=g.index,
            settings=compiled.settings,
            files=task_files,
            env=static_env if static_env is not None else tuple((k, t.render(values)) for k, t in compiled.env),
            outputs=static_outputs if static_outputs is not None else _task_outputs(compiled, values, task_id),
            depends_on=depends_on,
            display_name=compiled.display_name.render(values) if compiled.display_name else None,
            variable_names=compiled.variable_names,
            variable_values=variables,
            depends_ranges=spans + extra_ranges if spans else extra_ranges,
            outputs_from=tuple(f"{t.render(values)}/" for t in compiled.outputs_from) + compiled.group_outputs
            + _range_outputs(compiled, spans) if linked else (),
        )


RowRenderer = Callable[..., str]
_INDEX = "{{1:{}}}"  # `{index}`: the second argument of a row renderer
MAX_TEXTS = 65_536  # values formatted ahead per group: the texts stay a few MB whatever the task count


Place = Callable[[Field, bool], "str | None"]


def row_renderer(template: Template, place: Place, constants: Mapping[str, Any]) -> RowRenderer | None:
    """`template` as one str.format call on a row: `place(field, quoted)` gives each generated field's
    replacement field (`{0[1]}`, `{1:05d}`), or None when it cannot; constants (parameters, the workload's name)
    are rendered into the format string now, shell-quoted in a command as `render` would. None when a field
    cannot be placed or a constant cannot take its spec: the template then renders from a dict of values, task
    by task, and says what is wrong."""
    shell = bool(template.parts)  # only commands keep their parts
    out = []
    for literal, f in template.parts or split_template(template.text):
        out.append(escape_braces(literal))
        if f is None:
            continue
        quoted = shell and not f.raw
        if f.name in constants:
            try:
                text = format(constants[f.name], f.spec)
            except (ValueError, TypeError):
                return None
            spot = escape_braces(quote(text) if quoted else text)
        else:
            spot = place(f, quoted)
        if spot is None:
            return None
        out.append(spot)
    return "".join(out).format


def stamp_rows(compiled: CompiledGroup, workload: Workload, files: Sequence[InputFile]) -> Iterator[TaskSpec] | None:
    """The tasks of a generated group whose only per-task fields are its id, command and display name, each
    rendered by one str.format call on (the row, its index), the tasks assembled by itertools in C: no dict of
    values, no Python code per task (a million-task sweep stamps a million tasks). A sweep's values are formatted
    once each, ahead (`_texts`). None for any other group: `_expand_each` builds those."""
    g = compiled.group
    if g.kind != "sweep" or g.generator is None or compiled.depends_on or compiled.groups or compiled.ranges \
            or compiled.outputs_from or any(compiled.destinations) or any(t.fields for _, t in compiled.env) \
            or any(t.fields for t, _ in compiled.outputs):
        return None
    generator = g.generator
    templates = (compiled.id, compiled.command) + ((compiled.display_name,) if compiled.display_name else ())
    texts = _texts(generator, templates, g.generated_names)
    place, text_rows = texts if texts is not None else (_by_value(g.generated_names), generator.rows)
    constants = {**workload.parameters, "workload": workload.name}
    renderers = [row_renderer(t, place, constants) for t in templates]
    if None in renderers:
        return None
    ids, commands, *names = [map(render, text_rows(), count()) for render in renderers]  # type: ignore[arg-type]
    fields = zip(ids, commands, repeat(g.index), repeat(compiled.settings), repeat(tuple(files)),
                 repeat(tuple((k, t.text) for k, t in compiled.env)),
                 repeat(tuple(OutputSpec(t.text, when) for t, when in compiled.outputs)), repeat(()),
                 names[0] if names else repeat(None), repeat(compiled.variable_names),
                 map(add, generator.rows(), zip(count())), repeat(()), repeat(()))  # variable values: (*row, index)
    tasks = map(tuple.__new__, repeat(TaskSpec), fields)
    # texts formatted ahead cannot fail, nor can an index under a spec that formats the first and last index
    return tasks if texts is not None and _indexes_render(templates, generator.size()) else \
        _located(tasks, compiled, workload, files)


def _by_value(names: Sequence[str]) -> Place:
    """Fields formatted from the row's values, task by task; a value to quote is left to `render`."""
    position = {name: i for i, name in enumerate(names)}
    return lambda f, quoted: None if quoted else _INDEX.format(f.spec) if f.name == "index" else \
        f"{{0[{position[f.name]}]:{f.spec}}}"


def _texts(generator: Generator, templates: Sequence[Template],
           names: Sequence[str]) -> tuple[Place, Callable[[], Iterator[tuple]]] | None:
    """When the rows are every combination of a few values: each value formatted (and shell-quoted, in a command)
    once per way the templates use it, and rows of those texts in the rows' order (a product of texts, in step
    with the product of values)."""
    axes = generator.axes()
    if axes is None or sum(map(len, axes)) > MAX_TEXTS:
        return None
    position = {name: i for i, name in enumerate(names)}
    uses: list[list[tuple[str, bool]]] = [[] for _ in axes]
    for t in templates:
        for _, f in t.parts or split_template(t.text):
            use = (f.spec, bool(t.parts) and not f.raw) if f is not None else None
            if use is not None and f.name in position and use not in uses[position[f.name]]:  # type: ignore[union-attr]
                uses[position[f.name]].append(use)  # type: ignore[union-attr]
    try:
        cells = [[_text(v, use[0]) for v in values] if len(use) == 1 else
                 [tuple(_text(v, u) for u in use) for v in values] for values, use in zip(axes, uses, strict=True)]
    except (ValueError, TypeError):
        return None  # a value its spec cannot take: formatted task by task, which says where

    def place(f: Field, quoted: bool) -> str | None:
        if f.name == "index":
            return None if quoted else _INDEX.format(f.spec)  # a trusted number spec is never quoted
        k = position[f.name]
        at = uses[k].index((f.spec, quoted))
        return f"{{0[{k}]}}" if len(uses[k]) == 1 else f"{{0[{k}][{at}]}}"
    return place, lambda: product(*cells)


def _text(value: Any, use: tuple[str, bool]) -> str:
    text = format(value, use[0])
    return quote(text) if use[1] else text  # an argument of the format call: no brace escaping


def _indexes_render(templates: Sequence[Template], size: int) -> bool:
    return all(index_renders(f.spec, size) for t in templates for _, f in t.parts or split_template(t.text)
               if f is not None and f.name == "index")


def index_renders(spec: str, size: int) -> bool:
    """`{index:spec}` formats every index below `size`: an integer spec fails by itself, whatever the integer,
    except `c` beyond the last code point."""
    try:
        [format(i, spec) for i in (0, max(size - 1, 0))]
    except (ValueError, TypeError):
        return False
    return not spec.endswith("c")


def _located(tasks: Iterator[TaskSpec], compiled: CompiledGroup, workload: Workload,
             files: Sequence[InputFile]) -> Iterator[TaskSpec]:
    try:
        yield from tasks
    except (ValueError, TypeError):  # a value its format spec cannot take: the task by task expansion says which
        for _ in _expand_each(compiled, workload, files):
            pass
        raise


def _range(start: Template, end: Template, values: dict) -> tuple[int, int]:
    bounds = []
    for t in (start, end):
        text = t.render(values)
        if not is_plain_integer(text):
            raise TemplateError(f"dependency range bound {text!r} is not an integer task id (Batch's taskIdRanges "
                                "hold integers, without leading zeros)", t.text)
        bounds.append(int(text))
    if bounds[0] > bounds[1]:
        raise TemplateError(f"dependency range {bounds[0]}..{bounds[1]} is empty: start must be at most end",
                            start.text)
    return bounds[0], bounds[1]


MAX_RANGE_OUTPUTS = 100  # one resource file per task of the range: a task's JSON stays small


def _range_outputs(compiled: CompiledGroup, spans: tuple[tuple[int, int], ...]) -> tuple[str, ...]:
    """The output folders of each task of the ranges marked `outputs: true` (one prefix per id: `{i}/`)."""
    out: list[str] = []
    for (a, b), wanted in zip(spans, compiled.range_outputs, strict=True):
        if wanted:
            if b - a + 1 > MAX_RANGE_OUTPUTS:
                raise TemplateError(f"dependency range {a}..{b} with outputs: {b - a + 1:,} tasks' outputs, over the "
                                    f"{MAX_RANGE_OUTPUTS} one task receives (one resource file each); depend on a "
                                    "group with outputs instead", compiled.ranges[0][0].text)
            out += [f"{i}/" for i in range(a, b + 1)]
    return tuple(out)


def group_task_ids(group: TaskGroup, workload: Workload, files: Sequence[InputFile]) -> Iterator[str]:
    """The ids of a group's tasks, without building the tasks."""
    compiled = compile_group(group, workload)
    for values, _, _ in group_values(compiled, workload, files):
        yield compiled.id.render(values)


def _group_dependencies(compiled: CompiledGroup, workload: Workload,
                        files: Sequence[InputFile]) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
    """The ids, or id ranges when all are plain integers, of the tasks of each `{group: …}` dependency; listed
    once per workload (a million-task group is expanded once, not once per dependent task)."""
    ids: list[str] = []
    ranges: list[tuple[int, int]] = []
    for name in compiled.groups:
        key = ("group-ids", name, len(files))
        if key not in workload.cache:
            target = workload.group_named(name)
            collector = DependencyCollector()
            for task_id in group_task_ids(target, workload, files) if target else ():
                collector.add(task_id)
            workload.cache[key] = collector.dependencies()
        found = workload.cache[key]
        ids += found.get("taskIds", ())
        ranges += [(r["start"], r["end"]) for r in found.get("taskIdRanges", ())]
    return tuple(ids), tuple(ranges)


def _task_outputs(compiled: CompiledGroup, values: dict, task_id: str) -> tuple[OutputSpec, ...]:
    out = []
    for (pattern, when), dest in zip(compiled.outputs, compiled.destinations or [None] * len(compiled.outputs),
                                     strict=True):
        if dest is None:
            out.append(OutputSpec(pattern.render(values), when))
        else:
            out.append(OutputSpec(pattern.render(values), when, dest[0], render_path(dest[1], values, task_id)))
    return tuple(out)


MERGE_PLACEHOLDERS = frozenset({"workload"})


def merge_outputs(workload: Workload) -> tuple[OutputSpec, ...]:
    """The merge task's outputs, destination paths rendered (it knows {workload}, {task} and {job})."""
    m = workload.merge
    assert m is not None
    out = []
    for o in m.outputs:
        dest = _destination(o, MERGE_PLACEHOLDERS)
        out.append(o if dest is None else OutputSpec(o.pattern, o.when, dest[0],
                                                    render_path(dest[1], {"workload": workload.name}, m.id)))
    return tuple(out)


def merge_task(workload: Workload, files: Sequence[InputFile]) -> TaskSpec | None:
    m = workload.merge
    if m is None:
        return None
    return TaskSpec(id=m.id, command=m.command, group=MERGE_GROUP, settings=m.settings.over(workload.defaults),
                    files=tuple(files), env=tuple(m.env.items()), outputs=merge_outputs(workload))


def iter_tasks(workload: Workload, files: Sequence[InputFile]) -> Iterator[TaskSpec]:
    """Every task of the workload in submission order, the merge task last; lazy (chained in C: no Python frame
    per task between a stamped group and its consumer)."""
    groups = (expand_group(compile_group(group, workload), workload, files) for group in workload.groups)
    return chain(chain.from_iterable(groups), _merge(workload, files))


def _merge(workload: Workload, files: Sequence[InputFile]) -> Iterator[TaskSpec]:
    merge = merge_task(workload, files)
    if merge is not None:
        yield merge


def count_tasks(workload: Workload, files: Sequence[InputFile]) -> int:
    total = sum(compile_group(g, workload).size(files) for g in workload.groups)
    return total + (1 if workload.merge else 0)
