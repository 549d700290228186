"""What the local target cannot run, refused before anything is created: Windows pools (its nodes are this
machine's Linux processes) and container images when no container engine works here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bigcompute.document import Diagnostic, load_document
from bigcompute.emulator.core.engine import EngineProbe, machine_engine
from bigcompute.workload import LoadedWorkload


def local_refusals(lw: LoadedWorkload, engine: EngineProbe | None = None) -> list[Diagnostic]:
    """`engine`: this machine's container engine (probed once when None and the workload has an image)."""
    wl = lw.workload
    if not wl.windows and not wl.containers:
        return []
    doc = load_document(wl.path)
    if wl.windows:
        return [doc.diagnostic(("pool",), f"pool '{wl.pool}' runs Windows, and the local target's nodes are Linux "
                               "processes on this machine: run this workload on Azure (--target azure)",
                               code="local-target")]
    engine = engine or machine_engine()
    if engine.engine is not None:
        return []
    at, image = next((p, c) for p, c in _container_spots(lw) if c is not None)
    return [doc.diagnostic(at, f"container image {image.image}: the local target runs container tasks "
                           f"with docker or podman, and none works on this machine ({engine.why_not}); start a "
                           "container engine, or run this workload on Azure (--target azure)", code="local-target")]


def _container_spots(lw: LoadedWorkload) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    wl = lw.workload
    yield ("container",), wl.container
    for g in wl.groups:
        yield ("tasks", g.index, "container"), g.container
    yield ("merge", "container"), wl.merge.container if wl.merge else None
