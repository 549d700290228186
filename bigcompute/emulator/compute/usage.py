"""Pool usage metrics (GET /poolusagemetrics) from the nodes' recorded lives (state/usage.py).

Batch aggregates each pool's usage per 30-minute interval: `totalCoreHours` is the core hours the pool's nodes
were allocated for in that interval, the cores being its vmSize's vCPUs. Without starttime/endtime the answer is
the last aggregation interval available; with them, every interval from the one holding starttime to the one
ending at endtime. Locally an interval is available as soon as it has ended (Azure publishes it about two hours
later), and, like every duration of the emulator, an interval lasts 30 minutes of the emulator's clock: 30 minutes
divided by --time-scale. A vmSize missing from bigcompute/vm_sizes.py counts one core per node.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from bigcompute.emulator.core.formats import iso
from bigcompute.emulator.state.usage import NodeLife
from bigcompute.vm_sizes import vcpus

INTERVAL = 1800.0  # Batch's aggregation interval: 30 minutes


def window(now: float, time_scale: float, start: float | None, end: float | None) -> tuple[float, float, float]:
    """The interval length (clock seconds) and the aligned [first, last) range to report: the intervals holding
    `start` up to `end`, never past the last one that has ended by `now`."""
    step = INTERVAL / time_scale
    available = math.floor(now / step) * step  # the end of the last interval that has ended
    first = math.floor((start if start is not None else available - step) / step) * step
    last = min(math.ceil((end if end is not None else available) / step) * step, available)
    return step, first, last


def metrics(lives: Iterable[NodeLife], *, now: float, time_scale: float, start: float | None = None,
            end: float | None = None) -> list[dict[str, Any]]:
    """One entry per pool and interval in which the pool had nodes, in time then pool order."""
    step, first, last = window(now, time_scale, start, end)
    seconds: dict[tuple[float, str], float] = defaultdict(float)
    sizes: dict[str, str] = {}
    for life in lives:
        begin, stop = max(life.started, first), min(life.ended if life.ended is not None else now, last)
        t = math.floor(begin / step) * step
        while t < stop:
            overlap = min(stop, t + step) - max(begin, t)
            if overlap > 0:
                seconds[(t, life.pool_id)] += overlap * core_count(life.vm_size)
                sizes[life.pool_id] = life.vm_size
            t += step
    return [{"poolId": pool_id, "startTime": iso(t), "endTime": iso(t + step), "vmSize": sizes[pool_id],
             "totalCoreHours": round(core_seconds * time_scale / 3600.0, 6)}
            for (t, pool_id), core_seconds in sorted(seconds.items())]


def core_count(vm_size: str) -> int:
    return vcpus(vm_size) or 1
