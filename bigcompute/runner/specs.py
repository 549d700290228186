"""The spec a job was created from, kept beside the workload's inputs, so a later plan can say which fields and
which input files a change touched.

`apply` writes `.specs/<workload>/<spec hash>.json` in the inputs container (apart from the
workload's content-addressed inputs under `<workload>/`) before it creates the job: the
workload file's data and the digests of its input files (what the job id is a hash of). The name is the hash,
so the record never changes once written; jobs created before records existed have none, and the plan says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient

from bigcompute.workload import Workload


def record_name(workload: str, spec: str) -> str:
    return f".specs/{workload}/{spec}.json"  # beside .locks/, apart from the inputs under <workload>/


def record(container: ContainerClient, workload: Workload, spec: str, digests: Mapping[str, str]) -> None:
    body = json.dumps({"spec": workload.raw, "inputs": dict(sorted(digests.items()))}, sort_keys=True, default=str)
    container.upload_blob(record_name(workload.name, spec), body.encode(), overwrite=True)


def fetch(container: ContainerClient, workload: str, spec: str) -> dict[str, Any] | None:
    """The record of a job's spec, or None when the job predates records (or someone deleted it)."""
    try:
        return json.loads(container.download_blob(record_name(workload, spec)).readall())
    except ResourceNotFoundError:
        return None


@dataclass(frozen=True)
class SpecChange:
    fields: tuple[str, ...]  # workload file paths that changed: `tasks[0].command`, `defaults.timeout`
    inputs: tuple[str, ...]  # `changed prog/work.sh`, `added data/x.csv`, `removed ...`

    def text(self) -> str:
        parts = []
        if self.fields:
            parts.append("fields " + ", ".join(self.fields))
        if self.inputs:
            parts.append("inputs " + ", ".join(self.inputs))
        return "; ".join(parts) or "the blob inputs or listings (the workload file and its files are the same)"


def compare(old: Mapping[str, Any], workload: Workload, digests: Mapping[str, str]) -> SpecChange:
    fields = tuple(_paths(old.get("spec"), json.loads(json.dumps(workload.raw, default=str))))
    was, now = old.get("inputs") or {}, digests
    inputs = [f"changed {p}" for p in sorted(was.keys() & now.keys()) if was[p] != now[p]]
    inputs += [f"added {p}" for p in sorted(now.keys() - was.keys())]
    inputs += [f"removed {p}" for p in sorted(was.keys() - now.keys())]
    return SpecChange(fields, tuple(inputs))


def _paths(old: Any, new: Any, at: str = "") -> Iterator[str]:
    """The paths where two JSON values differ, walking both at once (a changed list length is one path)."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*new, *(k for k in old if k not in new)]:
            yield from _paths(old.get(key), new.get(key), f"{at}.{key}" if at else str(key))
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _paths(a, b, f"{at}[{i}]")
    elif old != new:
        yield at or "(the whole file)"
