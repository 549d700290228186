"""Lazy expansion of task groups into tasks: a sweep of a million tasks streams, one task at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import NamedTuple

from bigcompute.workload.globs import glob_match
from bigcompute.workload.inputs import InputFile
from bigcompute.workload.model import OutputSpec, TaskGroup, TaskSettings, Workload
from bigcompute.workload.params import combinations, sweep_size
from bigcompute.workload.templates import Template, parse_template

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

    def size(self, files: Sequence[InputFile]) -> int:
        g = self.group
        if g.kind == "sweep":
            return sweep_size(g.parameters)
        if g.kind == "foreach":
            return sum(1 for f in files if glob_match(g.foreach or "", f.relpath))
        return 1


def compile_group(group: TaskGroup, workload: Workload) -> CompiledGroup:
    """Parse the group's templates; raises TemplateError naming the first bad one (see `template_fields`)."""
    known = group.placeholders(workload)
    return CompiledGroup(
        group=group,
        id=parse_template(group.id, known),
        command=parse_template(group.command, known, shell=True).trusting(
            {"index", *(p.name for p in group.parameters if p.numeric)}),
        display_name=parse_template(group.display_name, known) if group.display_name else None,
        env=tuple((k, parse_template(v, known)) for k, v in group.env.items()),
        outputs=tuple((parse_template(o.pattern, known), o.when) for o in group.outputs),
        depends_on=tuple(parse_template(d, known) for d in group.depends_on),
        settings=group.settings.over(workload.defaults),
        variable_names=tuple(_VARIABLES.get(k) or f"{PARAM_PREFIX}{k}" for k in variable_keys(group)),
    )


_VARIABLES = {"file": "BIGCOMPUTE_FILE", "name": "BIGCOMPUTE_NAME", "stem": "BIGCOMPUTE_STEM",
              "ext": "BIGCOMPUTE_EXT", "dir": "BIGCOMPUTE_DIR", "index": "BIGCOMPUTE_INDEX"}
PARAM_PREFIX = "BIGCOMPUTE_PARAM_"
FOREACH_KEYS = ("file", "name", "stem", "ext", "dir")


def variable_keys(group: TaskGroup) -> tuple[str, ...]:
    """The placeholders exported as variables, in the order `group_values` yields their values."""
    if group.kind == "sweep":
        return (*(p.name for p in group.parameters), "index")
    return (*FOREACH_KEYS, "index") if group.kind == "foreach" else ("index",)


def parse_field(path: tuple[str | int, ...], text: str, known: frozenset[str]) -> Template:
    """Parse one field of `template_fields`: the command is a shell template."""
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
    for i, dep in enumerate(group.depends_on):
        yield ("dependsOn", i), dep


def group_values(compiled: CompiledGroup, workload: Workload,
                 files: Sequence[InputFile]) -> Iterator[tuple[dict, tuple, tuple[InputFile, ...]]]:
    """Placeholder values of each task of the group, the values of its `variable_keys` in order, and the
    input files that task receives.

    The values dict is reused between tasks (a sweep yields millions): consume it before the next one.
    """
    g = compiled.group
    if g.kind == "sweep":
        names = [p.name for p in g.parameters]
        shared = tuple(files)
        values: dict = {"workload": workload.name}
        for index, combo in enumerate(combinations(g.parameters)):
            values.update(zip(names, combo, strict=True))
            values["index"] = index
            yield values, (*combo, index), shared
    elif g.kind == "foreach":
        pattern = g.foreach or ""
        own = [f for f in files if glob_match(pattern, f.relpath)]
        shared = tuple(f for f in files if not glob_match(pattern, f.relpath))
        for index, f in enumerate(own):
            p = PurePosixPath(f.relpath)
            values = {"index": index, "workload": workload.name, "file": f.relpath, "name": p.name,
                      "stem": p.stem, "ext": p.suffix.lstrip("."), "dir": p.parent.as_posix()}
            yield values, (*(values[k] for k in FOREACH_KEYS), index), (f, *shared)
    else:
        yield {"index": 0, "workload": workload.name}, (0,), tuple(files)


def expand_group(compiled: CompiledGroup, workload: Workload, files: Sequence[InputFile]) -> Iterator[TaskSpec]:
    g = compiled.group
    static_env = tuple((k, t.text) for k, t in compiled.env) if not any(t.fields for _, t in compiled.env) else None
    static_outputs = tuple(OutputSpec(t.text, when) for t, when in compiled.outputs) \
        if not any(t.fields for t, _ in compiled.outputs) else None
    for values, variables, task_files in group_values(compiled, workload, files):
        yield TaskSpec(
            id=compiled.id.render(values),
            command=compiled.command.render(values),
            group=g.index,
            settings=compiled.settings,
            files=task_files,
            env=static_env if static_env is not None else tuple((k, t.render(values)) for k, t in compiled.env),
            outputs=static_outputs if static_outputs is not None
            else tuple(OutputSpec(t.render(values), when) for t, when in compiled.outputs),
            depends_on=tuple(t.render(values) for t in compiled.depends_on),
            display_name=compiled.display_name.render(values) if compiled.display_name else None,
            variable_names=compiled.variable_names,
            variable_values=variables,
        )


def merge_task(workload: Workload, files: Sequence[InputFile]) -> TaskSpec | None:
    m = workload.merge
    if m is None:
        return None
    return TaskSpec(id=m.id, command=m.command, group=MERGE_GROUP, settings=m.settings.over(workload.defaults),
                    files=tuple(files), env=tuple(m.env.items()), outputs=m.outputs)


def iter_tasks(workload: Workload, files: Sequence[InputFile]) -> Iterator[TaskSpec]:
    """Every task of the workload in submission order, the merge task last; lazy."""
    for group in workload.groups:
        yield from expand_group(compile_group(group, workload), workload, files)
    merge = merge_task(workload, files)
    if merge is not None:
        yield merge


def count_tasks(workload: Workload, files: Sequence[InputFile]) -> int:
    total = sum(compile_group(g, workload).size(files) for g in workload.groups)
    return total + (1 if workload.merge else 0)
