"""Compare two graphs of the same stack (e.g. a pull request's plan against its base branch's).

Resources are matched by URN. A change to a property the resource replaces on (a pool's vmSize, image,
network...) means Azure would delete and recreate it; anything else updates in place. `explain` adds what
a reviewer reads (before and after values, the review lines of `infra plan`), and `render_text` and
`render_markdown` print it for a terminal or a pull request's job summary.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bigcompute.infra.graph import Graph, Node
from bigcompute.infra.mocks import KINDS
from bigcompute.infra.review import physical_name, review, short_type

POOL_TYPE = "azure-native:batch:Pool"
# a pool's updatable settings, PATCHed (components/pool_update.py): the same values as the pool's own
# inputs, whose change the pool's row already shows, so they are not listed twice
POOL_UPDATE_TYPE = "pulumi-python:dynamic/batch:PoolUpdate"


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()  # a property one side of a diff does not have


@dataclass(frozen=True, order=True)
class Change:
    urn: str
    action: str  # create | delete | update | replace
    paths: tuple[str, ...] = ()
    replaced_by: tuple[str, ...] = ()  # the changed paths that force the replacement


def leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Flatten nested inputs into `a.b[0].c` paths, the way Pulumi names property paths."""
    if isinstance(value, Mapping):
        for key in sorted(value):
            yield from leaves(value[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, f"{prefix}[{i}]")
        if not value:
            yield prefix, []
    else:
        yield prefix, value


def changed_paths(before: Node, after: Node) -> tuple[str, ...]:
    old, new = dict(leaves(before.inputs)), dict(leaves(after.inputs))
    return tuple(sorted(p for p in old.keys() | new.keys() if old.get(p, ABSENT) != new.get(p, ABSENT)))


def _top(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]


def provider_replace_keys(node: Node) -> frozenset[str]:
    """Inputs whose change azure-native answers with a replacement although the program does not say so:
    the parameters of the resource's ARM path (its own name, its account's, its resource group's...) and
    its location. Azure can neither rename a resource nor move it to another region."""
    if not node.type.startswith("azure-native:"):
        return frozenset()
    name_key, _, template = KINDS.get(node.type, ("", None, ""))
    params = set(re.findall(r"{(\w+)}", template)) - {"sub", "name"}
    return frozenset({"location", *params, *([name_key] if name_key else [])})


def diff(base: Graph, head: Graph) -> list[Change]:
    old, new = (_reviewed(g) for g in (base, head))
    changes = [Change(urn, "create") for urn in new.keys() - old.keys()]
    changes += [Change(urn, "delete") for urn in old.keys() - new.keys()]
    for urn in old.keys() & new.keys():
        paths = changed_paths(old[urn], new[urn])
        if not paths:
            continue
        replacing = set(new[urn].replace_on_changes) | provider_replace_keys(new[urn])
        forcing = tuple(p for p in paths if _top(p) in replacing)
        changes.append(Change(urn, "replace" if forcing else "update", paths, forcing))
    return sorted(changes)


def _reviewed(graph: Graph) -> dict[str, Node]:
    return {urn: n for urn, n in graph.by_urn().items() if n.type != POOL_UPDATE_TYPE}


# --- what a reviewer reads ----------------------------------------------------------------------------

@dataclass(frozen=True)
class PropertyChange:
    path: str
    before: Any  # ABSENT when the property is new
    after: Any  # ABSENT when the property is gone
    replaces: bool = False


@dataclass(frozen=True)
class ResourceChange:
    action: str  # create | delete | update | replace
    node: Node  # the working tree's node; the base's for a delete
    properties: tuple[PropertyChange, ...] = ()
    # the `infra plan` review lines that differ, as (label, before, after); "" on the side without it
    summary: tuple[tuple[str, str, str], ...] = ()

    @property
    def replaced_by(self) -> tuple[str, ...]:
        return tuple(p.path for p in self.properties if p.replaces)

    @property
    def pool(self) -> str | None:
        """The Batch pool's id when this resource is a pool."""
        return str(self.node.inputs.get("poolName") or self.node.name) if self.node.type == POOL_TYPE else None


ACTION_ORDER = ("replace", "delete", "create", "update")


@dataclass(frozen=True)
class GraphDiff:
    stack: str
    base_label: str
    head_label: str
    resources: tuple[ResourceChange, ...]
    outputs: tuple[PropertyChange, ...]  # the stack outputs: the runner's contract

    def count(self, action: str) -> int:
        return sum(r.action == action for r in self.resources)

    @property
    def empty(self) -> bool:
        return not self.resources and not self.outputs

    @property
    def replacements(self) -> list[ResourceChange]:
        return [r for r in self.resources if r.action == "replace"]


def explain(base: Graph | None, head: Graph | None, base_label: str, head_label: str) -> GraphDiff:
    """The diff of two graphs with values and review lines; a missing graph counts as an empty stack."""
    stack = (head or base).stack if (head or base) else ""
    old = base or Graph("", stack, ())
    new = head or Graph("", stack, ())
    before, after = old.by_urn(), new.by_urn()
    resources = []
    for change in diff(old, new):
        if change.action in ("create", "delete"):
            node = after[change.urn] if change.action == "create" else before[change.urn]
            lines = tuple((label, "", value) if change.action == "create" else (label, value, "")
                          for label, value in review(node) if label != "replaced when changed")
            resources.append(ResourceChange(change.action, node, summary=lines))
            continue
        was, now = before[change.urn], after[change.urn]
        old_leaves, new_leaves = dict(leaves(was.inputs)), dict(leaves(now.inputs))
        props = tuple(PropertyChange(p, old_leaves.get(p, ABSENT), new_leaves.get(p, ABSENT), p in change.replaced_by)
                      for p in change.paths)
        resources.append(ResourceChange(change.action, now, props, _summary(was, now)))
    resources.sort(key=lambda r: (ACTION_ORDER.index(r.action), r.node.type, r.node.name))
    return GraphDiff(stack, base_label, head_label, tuple(resources), _outputs(old, new))


def _summary(was: Node, now: Node) -> tuple[tuple[str, str, str], ...]:
    old, new = dict(review(was)), dict(review(now))
    labels = [label for label in [*new, *(k for k in old if k not in new)] if label != "replaced when changed"]
    # multi-line values (formulas) are shown as a line diff with the properties instead
    return tuple((label, old.get(label, ""), new.get(label, "")) for label in labels
                 if old.get(label) != new.get(label) and "\n" not in old.get(label, "") + new.get(label, ""))


def _outputs(base: Graph, head: Graph) -> tuple[PropertyChange, ...]:
    old, new = dict(leaves(dict(base.outputs))), dict(leaves(dict(head.outputs)))
    return tuple(PropertyChange(p, old.get(p, ABSENT), new.get(p, ABSENT)) for p in sorted(old.keys() | new.keys())
                 if old.get(p, ABSENT) != new.get(p, ABSENT))


# --- rendering ----------------------------------------------------------------------------------------

SYMBOLS = {"create": "+", "delete": "-", "update": "~", "replace": "-/+"}
REPLACE_NOTE = "Azure deletes it and creates it again under the same id"
POOL_REPLACE_NOTE = "Azure deletes the pool, its nodes and any task running on them, then creates it again"


def value_text(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _multiline(p: PropertyChange) -> bool:
    return any(isinstance(v, str) and "\n" in v for v in (p.before, p.after))


def line_diff(p: PropertyChange) -> list[str]:
    """A multi-line value (an autoscale formula) as the lines that changed, with one line of context."""
    old = p.before.splitlines() if isinstance(p.before, str) else []
    new = p.after.splitlines() if isinstance(p.after, str) else []
    lines = list(difflib.unified_diff(old, new, lineterm="", n=1))[2:]  # without the ---/+++ header
    return [line if line.startswith(("-", "+", "@@")) else f" {line[1:]}" for line in lines]


def resource_title(r: ResourceChange) -> str:
    name = physical_name(r.node)
    return f"{short_type(r.node.type)} {r.node.name}" + (f" ({name})" if name and name != r.node.name else "")


def replacement_warning(r: ResourceChange) -> str:
    because = ", ".join(r.replaced_by)
    if r.pool is not None:
        return f"pool '{r.pool}' is replaced because {because} changed: {POOL_REPLACE_NOTE}"
    return f"{resource_title(r)} is replaced because {because} changed: {REPLACE_NOTE}"


def headline(d: GraphDiff) -> str:
    counts = ", ".join(f"{d.count(a)} to {a}" for a in ACTION_ORDER)
    return counts + (f", {len(d.outputs)} stack output(s) changed" if d.outputs else "")


def render_text(d: GraphDiff, lead: Sequence[str] = ()) -> str:
    """`lead`: lines shown first, under the title (the operator's change, a simulation)."""
    out = [f"infra diff, stack {d.stack}: {d.base_label} -> {d.head_label}", *lead]
    if d.empty:
        nothing = "no resource changes" if lead else "no changes"
        return "\n".join([*out, f"{nothing}: the stack declares the same resources and properties\n"])
    out.append(headline(d))
    out += [f"WARNING: {replacement_warning(r)}" for r in d.replacements]
    for r in d.resources:
        out.append("")
        out.append(f"{SYMBOLS[r.action]:<3} {r.action:<8} {resource_title(r)}")
        for label, before, after in r.summary:
            if "\n" in before + after:
                out.append(f"      {label}:")
                out += [f"        {line}" for line in line_diff(PropertyChange(label, before, after))]
            elif before and after:
                out.append(f"      {label}: {before} -> {after}")
            else:
                out.append(f"      {label}: {before or after}")
        for p in r.properties:
            mark = "  (forces replacement)" if p.replaces else ""
            if _multiline(p):
                out.append(f"      {p.path}:{mark}")
                out += [f"        {line}" for line in line_diff(p)]
            else:
                out.append(f"      {p.path}: {value_text(p.before)} -> {value_text(p.after)}{mark}")
    if d.outputs:
        out += ["", "stack outputs (the runner's contract):"]
        out += [f"      {p.path}: {value_text(p.before)} -> {value_text(p.after)}" for p in d.outputs]
    return "\n".join(out) + "\n"


def _cell(value: Any) -> str:
    """A value in a markdown table: in a code span, pipes escaped (GitHub's tables split on them)."""
    text = value_text(value).replace("|", "\\|").replace("\n", " ")
    return f"`{text}`" if text and "`" not in text else text


def _change_cell(r: ResourceChange, shown: int = 3) -> str:
    """`update: a, b, c and 4 more`; a replacement names the paths that force it."""
    paths = r.replaced_by or tuple(p.path for p in r.properties)
    if not paths:
        return r.action
    names = ", ".join(f"`{p}`" for p in paths[:shown]) + (f" and {len(paths) - shown} more" if len(paths) > shown else "")
    return f"{r.action} ({'forced by ' if r.replaced_by else ''}{names})"


def render_markdown(d: GraphDiff, lead: Sequence[str] = (), fold: bool = False) -> str:
    """`lead`: markdown blocks shown first, under the title; `fold`: the resource tables in a collapsed
    <details> (a pull-request comment stays short; the headline and replacement warnings stay visible)."""
    out = [f"### infra diff: stack `{d.stack}`", ""]
    for block in lead:
        out += [block, ""]
    if d.empty:
        nothing = "no resource changes" if lead else "no changes"
        out.append(f"`{d.base_label}` → {d.head_label}: **{nothing}** — the stack declares the same "
                   "resources and properties.")
        return "\n".join(out) + "\n"
    replaced = d.count("replace")
    out.append(f"`{d.base_label}` → {d.head_label}: " + headline(d).replace(
        f"{replaced} to replace", f"**{replaced} to replace**" if replaced else f"{replaced} to replace", 1) + ".")
    for r in d.replacements:
        out += ["", "> [!WARNING]", f"> **{replacement_warning(r)}**"]
    if fold:
        out += ["", "<details><summary>the generated resources, property by property</summary>"]
    out += ["", "| | resource | type | change |", "|---|---|---|---|"]
    for r in d.resources:
        out.append(f"| {SYMBOLS[r.action]} | `{r.node.name}` | {short_type(r.node.type)} | {_change_cell(r)} |")
    for r in d.resources:
        if not (r.summary or r.properties):
            continue
        out += ["", f"#### {SYMBOLS[r.action]} {r.action} `{r.node.name}` ({short_type(r.node.type)})"]
        lines = [(label, before, after) for label, before, after in r.summary if "\n" not in before + after]
        if lines:
            out += ["", "| | before | after |", "|---|---|---|"]
            out += [f"| {label} | {_cell(before) if before else ''} | {_cell(after) if after else ''} |"
                    for label, before, after in lines]
        for label, before, after in r.summary:
            if "\n" in before + after:
                out += ["", f"{label}:", "", "```diff", *line_diff(PropertyChange(label, before, after)), "```"]
        simple = [p for p in r.properties if not _multiline(p)]
        if simple:
            out += ["", "| property | before | after |", "|---|---|---|"]
            out += [f"| `{p.path}`{' **(forces replacement)**' if p.replaces else ''} | {_cell(p.before)} | "
                    f"{_cell(p.after)} |" for p in simple]
        for p in r.properties:
            if _multiline(p):
                out += ["", f"`{p.path}`{' **(forces replacement)**' if p.replaces else ''}:", "", "```diff",
                        *line_diff(p), "```"]
    if d.outputs:
        out += ["", "#### stack outputs (the runner's contract)", "", "| output | before | after |", "|---|---|---|"]
        out += [f"| `{p.path}` | {_cell(p.before)} | {_cell(p.after)} |" for p in d.outputs]
    if fold:
        out += ["", "</details>"]
    return "\n".join(out) + "\n"
