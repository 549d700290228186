"""Compare two graphs of the same stack (e.g. a pull request's plan against its base branch's).

Resources are matched by URN. A change to a property the resource replaces on (a pool's vmSize, image,
network...) means Azure would delete and recreate it; anything else updates in place.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bigcompute.infra.graph import Graph, Node


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
    return tuple(sorted(p for p in old.keys() | new.keys() if old.get(p, _MISSING) != new.get(p, _MISSING)))


def _top(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]


def diff(base: Graph, head: Graph) -> list[Change]:
    old, new = base.by_urn(), head.by_urn()
    changes = [Change(urn, "create") for urn in new.keys() - old.keys()]
    changes += [Change(urn, "delete") for urn in old.keys() - new.keys()]
    for urn in old.keys() & new.keys():
        paths = changed_paths(old[urn], new[urn])
        if not paths:
            continue
        forcing = tuple(p for p in paths if _top(p) in new[urn].replace_on_changes)
        changes.append(Change(urn, "replace" if forcing else "update", paths, forcing))
    return sorted(changes)


_MISSING = object()
