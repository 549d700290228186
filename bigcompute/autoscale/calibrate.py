"""A pool's history (runner/history.py) as simulator input: a trace CSV that `simulate --trace` replays,
and the node start-up times that `--ready-time` / `--ready-time-max` should span."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bigcompute.autoscale.values import format_timestamp, to_seconds


class _Task(Protocol):
    created: datetime
    started: datetime | None
    ended: datetime | None
    slots: int


class _Node(Protocol):
    allocated: datetime | None
    ready: datetime | None


@dataclass(frozen=True)
class StartUp:
    samples: int
    low: float | None  # seconds
    median: float | None
    high: float | None


def trace_csv(tasks: Iterable[_Task]) -> tuple[str, int]:
    """`time,duration,slots` rows for the tasks that ran to the end (arrival = creation time, duration = run
    time), and how many were left out because they had not finished."""
    rows, skipped = ["time,duration,slots"], 0
    for task in tasks:
        if task.started is None or task.ended is None:
            skipped += 1
            continue
        run = max(0.0, to_seconds(task.ended) - to_seconds(task.started))
        rows.append(f"{format_timestamp(to_seconds(task.created))},{run:g},{task.slots}")
    return "\n".join(rows) + "\n", skipped


def start_up(nodes: Iterable[_Node]) -> StartUp:
    """Allocation to start-task end, over the nodes that have both."""
    spans = sorted(to_seconds(n.ready) - to_seconds(n.allocated) for n in nodes
                   if n.allocated is not None and n.ready is not None)
    if not spans:
        return StartUp(0, None, None, None)
    return StartUp(len(spans), spans[0], spans[(len(spans) - 1) // 2], spans[-1])


def ready_time_options(s: StartUp) -> list[str]:
    """The simulate options that replay these start-ups (whole seconds, rounded outwards)."""
    if s.low is None or s.high is None:
        return []
    low, high = math.floor(s.low), math.ceil(s.high)
    return [f"--ready-time PT{low}S"] + ([f"--ready-time-max PT{high}S"] if high > low else [])
