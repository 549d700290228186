"""What every resource store shares: the context (db, clock, base URL, scheduler wake-up) and doc helpers."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from bigcompute.emulator.core.formats import iso, new_etag
from bigcompute.emulator.state.db import Database
from bigcompute.emulator.state.models import Resource


@dataclass
class Ctx:
    db: Database
    base_url: str = "http://127.0.0.1"
    time_scale: float = 1.0
    clock: Callable[[], float] = time.time
    wake: Callable[[], None] = field(default=lambda: None)
    # Sampled task metrics per pool for autoscale ($PendingTasks...), newest last; memory only.
    metrics: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    started: float = field(default_factory=time.time)  # anchor of the virtual (time-scaled) clock


def public(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The wire view: keys starting with `_` are the emulator's own bookkeeping."""
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def touch(doc: Resource, now: float) -> None:
    doc["eTag"] = new_etag()
    doc["lastModified"] = iso(now)


def set_state(doc: Resource, new: str, now: float) -> None:
    if doc.get("state") == new:
        return
    doc["previousState"] = doc.get("state")
    doc["previousStateTransitionTime"] = doc.get("stateTransitionTime")
    doc["state"] = new
    doc["stateTransitionTime"] = iso(now)


def new_doc(spec: dict[str, Any], url: str, now: float, state: str) -> dict[str, Any]:
    stamp = iso(now)  # formatted once for both times: every task added comes through here
    doc = dict(spec)
    doc.update(url=url, creationTime=stamp, state=state, stateTransitionTime=stamp)
    touch(cast(Resource, doc), now)
    return doc
