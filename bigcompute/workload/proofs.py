"""The per-task checks of a generated group, proven once per template and parameter value instead of once per task.

A sweep's tasks are every combination of its parameters' values, each template filled with one value of each
parameter it names. So, without expanding a task:
- every task renders when each template's field formats each value of its parameter (a format spec's failure
  depends on the value alone);
- every id is a valid Batch id when the template's fixed text and each field's texts use its characters, and the
  longest combination fits;
- ids are unique (case-insensitively) when an id can be read back into its fields' texts (each field has one
  width, or the fixed text after it starts with a character its texts never hold, or it is the last field), each
  field's texts are distinct for distinct values, and the id names every parameter with more than one value
  (or `{index}`): two tasks then differ in some field, so in their ids.
A group this cannot prove (another generator, per-task outputs or dependencies, a template it cannot read) is
expanded and checked task by task as before (checks.check_tasks); so is any group whose proof fails, which then
reports exactly what is wrong.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bigcompute.workload.expand import CompiledGroup, id_prefix, index_renders
from bigcompute.workload.model import Workload
from bigcompute.workload.params import distinct_integers
from bigcompute.workload.templates import Field, Template, split_template

ID_CHARS = re.compile(r"[A-Za-z0-9_-]*\Z")  # checks.TASK_ID without its length, for parts of an id
MAX_ID = 64
INDEX = "index"
# `{index}` specs whose texts are decimal digits, distinct for distinct indexes: none, `d`, zero-padded widths
_DIGITS_SPEC = re.compile(r"(?:0([0-9]*))?d?\Z")


@dataclass(frozen=True)
class Proof:
    """What the task scan would have gathered from a proven group."""

    count: int
    chars: int  # the sum of len(id) + 1 over its tasks (the merge task's dependency list)
    shape: re.Pattern[str]  # every id of the group, lowercased, matches it


def prove_groups(compiled: Sequence[CompiledGroup], wl: Workload) -> dict[int, Proof]:
    """Proofs of the groups whose tasks need no scan, by group index. None when a group has dependencies: those
    are checked against every task id, which the scan collects."""
    if any(g.dependencies for g in wl.groups):
        return {}
    prefixes = [id_prefix(c.group).lower() for c in compiled]
    proofs = {}
    for i, c in enumerate(compiled):
        mine = prefixes[i]
        if any(mine.startswith(o) or o.startswith(mine) for o in prefixes[:i] + prefixes[i + 1:]):
            continue  # another group's ids may start like this one's: the scan compares them
        proof = prove_group(c, wl)
        if proof is not None:
            proofs[c.group.index] = proof
    return proofs


def prove_group(c: CompiledGroup, wl: Workload) -> Proof | None:
    """The proof that every task of the group renders and has a valid, unique id; None when it cannot be made."""
    g = c.group
    found = g.generator.axes() if g.kind == "sweep" and g.generator else None
    axes = dict(zip(g.generated_names, found, strict=True)) if found is not None else None
    if axes is None or c.depends_on or c.ranges or c.outputs_from or c.groups or any(c.destinations) \
            or any(t.fields for t, _ in c.outputs):
        return None  # outputs per task: the scan checks each one stays in the task folder
    count = g.generator.size()  # type: ignore[union-attr]
    constants = {**wl.parameters, "workload": wl.name}
    domain = _Domain(axes, constants, count)
    templates = [c.id, c.command, *([c.display_name] if c.display_name else []), *(t for _, t in c.env)]
    if count == 0 or not all(domain.renders(t) for t in templates):
        return None
    return _prove_ids(c.id, domain, bool(wl.merge))


class _Domain:
    """The texts each field of a template takes over the group's tasks."""

    def __init__(self, axes: dict[str, Sequence], constants: dict, count: int):
        self.axes, self.constants, self.count = axes, constants, count

    def values(self, f: Field) -> Sequence:
        return self.axes[f.name] if f.name in self.axes else (self.constants[f.name],)

    def texts(self, f: Field) -> Iterator[str]:
        """Every text of a field other than `{index}`, one per value of its parameter, in order, made as they are
        read (a million values are a million texts: never held at once); raises ValueError or TypeError where a
        value cannot take the spec."""
        return (format(v, f.spec) for v in self.values(f))

    def index_width(self, f: Field) -> tuple[int, int] | None:
        """The shortest and longest text of `{index}` when its texts are plain decimal digits, else None."""
        m = _DIGITS_SPEC.match(f.spec)
        if m is None:
            return None
        width = int(m.group(1) or 0)
        return max(width, 1), max(width, len(str(self.count - 1)))

    def renders(self, t: Template) -> bool:
        """Every task renders `t`."""
        for _, f in split_template(t.text):
            if f is None:
                continue
            if f.name == INDEX:
                if not index_renders(f.spec, self.count):
                    return False
            else:
                try:
                    deque(self.texts(f), maxlen=0)
                except (ValueError, TypeError):
                    return False
        return True


def _prove_ids(t: Template, domain: _Domain, merge: bool) -> Proof | None:
    parts = split_template(t.text)
    literal = "".join(lit for lit, _ in parts)
    if not ID_CHARS.match(literal):
        return None
    if merge and (not literal or literal.isdigit()):
        return None  # ids that may all be plain integers: the merge's dependency check asks the scan
    shortest = longest = len(literal)
    chars = domain.count * (len(literal) + 1)
    named: set[str] = set()
    shape = [re.escape(parts[0][0].lower())] if parts else []
    for i, (_, f) in enumerate(parts):
        if f is None:
            continue
        following = parts[i + 1][0].lower() if i + 1 < len(parts) else ""
        last = all(later is None for _, later in parts[i + 1:])
        field = _field(f, domain, following, last)
        if field is None:
            return None
        low, high, total, alphabet_ok = field
        shortest, longest, chars = shortest + low, longest + high, chars + total
        if f.name in domain.axes or f.name == INDEX:
            named.add(f.name)
        shape += [".*", re.escape(following)]
        if not alphabet_ok:
            return None
    varying = {name for name, values in domain.axes.items() if len(values) > 1}
    if shortest < 1 or longest > MAX_ID or not (INDEX in named or varying <= named):
        return None
    return Proof(domain.count, chars, re.compile("".join(shape), re.DOTALL))


def _field(f: Field, domain: _Domain, following: str, last: bool) -> tuple[int, int, int, bool] | None:
    """(shortest, longest, total characters over the tasks, readable back) of one field of an id, or None when
    its texts are not id characters or not distinct per value. Readable back: its texts have one length, or it
    is the last field (what follows it is fixed text), or the fixed text after it starts with a character none
    of its texts holds (the field ends where that character first appears)."""
    if f.name == INDEX:
        widths = domain.index_width(f)
        if widths is None:
            return None
        low, high = widths
        return low, high, _index_chars(domain.count, low), low == high or last or \
            following[:1] not in ("", *"0123456789")
    distinct = distinct_integers(domain.values(f)) and _DIGITS_SPEC.match(f.spec) is not None
    seen: set[str] = set()  # lowered texts, when distinctness is not known by construction
    alphabet: set[str] = set()
    low, high, total, n = MAX_ID + 1, 0, 0, 0
    try:
        for text in domain.texts(f):
            if not ID_CHARS.match(text):
                return None
            lowered = text.lower()
            if not distinct:
                if lowered in seen:
                    return None  # two values, one text: their tasks may share an id (the scan finds whether they do)
                seen.add(lowered)
            alphabet.update(lowered)
            low, high, total, n = min(low, len(text)), max(high, len(text)), total + len(text), n + 1
    except (ValueError, TypeError):
        return None
    readable = low == high or last or (following != "" and following[0] not in alphabet)
    return low, high, total * (domain.count // n), readable


def _index_chars(count: int, width: int) -> int:
    """The characters of the decimal texts of 0 .. count-1, zero-padded to `width`."""
    total, digits, start = 0, 1, 0
    while start < count:
        end = min(count, 10 ** digits)
        total += (end - start) * max(width, digits)
        start, digits = end, digits + 1
    return total
