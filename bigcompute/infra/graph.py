"""The resource graph a run of the program declares: plain, JSON-round-trippable data.

`infra plan` renders one graph; a later `infra diff` compares two of them node by node (by URN), which
is why every node keeps its full inputs and the properties whose change replaces it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class Node:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: Mapping[str, Any] = field(default_factory=dict)
    # what the (mock) provider answered for a resource; the registered outputs for a component
    outputs: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None
    replace_on_changes: tuple[str, ...] = ()
    delete_before_replace: bool = False
    protect: bool = False
    dependencies: tuple[str, ...] = ()
    # inputs whose change Pulumi does not send (a pool's updatable settings go through its PoolUpdate)
    ignore_changes: tuple[str, ...] = ()
    replace_with: tuple[str, ...] = ()  # URNs whose replacement replaces this resource too

    @property
    def props(self) -> Mapping[str, Any]:
        """A resource's provider state (its outputs), which is what CrossGuard's stack policies see; a
        component's registered outputs are not state, so components show their inputs."""
        return dict(self.outputs) if self.custom else dict(self.inputs)

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn, "type": self.type, "name": self.name, "parent": self.parent, "custom": self.custom,
            "id": self.id, "inputs": dict(self.inputs), "outputs": dict(self.outputs),
            "replaceOnChanges": list(self.replace_on_changes), "deleteBeforeReplace": self.delete_before_replace,
            "protect": self.protect, "dependencies": list(self.dependencies),
            "ignoreChanges": list(self.ignore_changes), "replaceWith": list(self.replace_with),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Node:
        return cls(data["urn"], data["type"], data["name"], data.get("parent"), data.get("custom", True),
                   data.get("inputs", {}), data.get("outputs", {}), data.get("id"),
                   tuple(data.get("replaceOnChanges", ())), data.get("deleteBeforeReplace", False),
                   data.get("protect", False), tuple(data.get("dependencies", ())),
                   tuple(data.get("ignoreChanges", ())), tuple(data.get("replaceWith", ())))


@dataclass(frozen=True)
class Graph:
    project: str
    stack: str
    nodes: tuple[Node, ...]
    outputs: Mapping[str, Any] = field(default_factory=dict)

    def resources(self, type_: str | None = None) -> list[Node]:
        """Every node except the root stack, optionally of one type."""
        return [n for n in self.nodes if n.type != STACK_TYPE and (type_ is None or n.type == type_)]

    def by_urn(self) -> dict[str, Node]:
        return {n.urn: n for n in self.nodes}

    def children(self, urn: str | None) -> list[Node]:
        return [n for n in self.nodes if n.parent == urn]

    def walk(self) -> Iterator[tuple[int, Node]]:
        """Depth-first from the stack; resources before components, then by name: a stable order."""
        kids: dict[str | None, list[Node]] = {}
        for n in self.nodes:
            kids.setdefault(n.parent, []).append(n)
        roots = [n for n in self.nodes if n.type == STACK_TYPE] or kids.get(None, [])

        def visit(node: Node, depth: int) -> Iterator[tuple[int, Node]]:
            yield depth, node
            for child in sorted(kids.get(node.urn, []), key=lambda c: (not c.custom, c.name)):
                yield from visit(child, depth + 1)

        for root in roots:
            yield from visit(root, 0)

    def as_json(self) -> dict[str, Any]:
        return {"project": self.project, "stack": self.stack, "outputs": dict(self.outputs),
                "resources": [n.as_json() for _, n in self.walk()]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Graph:
        return cls(data["project"], data["stack"], tuple(Node.from_json(n) for n in data["resources"]),
                   data.get("outputs", {}))
