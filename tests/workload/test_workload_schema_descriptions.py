"""The workload schema describes every field (issue 16, Done when): `validate` messages, editors and the docs
read these descriptions, so a property without one is a field nobody can learn about."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import bigcompute.workload

SCHEMA = json.loads((Path(bigcompute.workload.__file__).parent / "workload.schema.json").read_text())


def _resolve(ref: str) -> dict:
    node = SCHEMA
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _described(node: dict) -> bool:
    return bool(node.get("description")) or ("$ref" in node and _described(_resolve(node["$ref"])))


def _properties(node, path: str) -> Iterator[tuple[str, dict]]:
    if isinstance(node, dict):
        for name, child in (node.get("properties") or {}).items():
            yield f"{path}.{name}", child
        for key, child in node.items():
            yield from _properties(child, f"{path}.{key}" if key != "properties" else path)
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _properties(child, f"{path}[{i}]")


def test_every_property_of_the_workload_schema_has_a_description():
    found = list(_properties(SCHEMA, "$"))
    assert len(found) > 100  # the walk reaches the nested definitions (an empty walk would pass anything)
    missing = sorted({path for path, node in found if not _described(node)})
    assert missing == []


def test_the_check_catches_a_property_without_one():
    assert not _described({"type": "string"})
    assert _described({"$ref": "#/$defs/taskId"})
    assert not _described({"$ref": "#/$defs/number"})
