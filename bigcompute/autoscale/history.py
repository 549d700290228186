"""What a formula reads: the metric history (time series per metric) and the pool's current state.

Sampling model (reference §B6): Batch takes one sample per metric every 30 s. The history holds the
samples that are *available* at evaluation time; modelling their ~1 minute delay is the caller's job
(the simulator appends each sample only once it would have become visible).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bigcompute.autoscale.catalog import canonical_metric
from bigcompute.autoscale.values import to_seconds

SAMPLE_PERIOD = timedelta(seconds=30)


@dataclass(frozen=True)
class PoolState:
    """The pool as Batch sees it when the formula runs; unset targets default to the current counts."""

    current_dedicated: int = 0
    current_low_priority: int = 0
    target_dedicated: int | None = None
    target_low_priority: int | None = None
    preempted: int = 0
    usable: int | None = None
    task_slots_per_node: int = 1

    def scalar(self, metric: str) -> float:
        """The current value of a node-count variable read as a plain double."""
        usable = self.usable
        if usable is None:
            usable = self.current_dedicated + self.current_low_priority - self.preempted
        return float({
            "$CurrentDedicatedNodes": self.current_dedicated,
            "$CurrentLowPriorityNodes": self.current_low_priority,
            "$PreemptedNodeCount": self.preempted,
            "$UsableNodeCount": usable,
            "$TaskSlotsPerNode": self.task_slots_per_node,
        }[metric])

    def target(self, low_priority: bool) -> float:
        if low_priority:
            t = self.target_low_priority
            return float(self.current_low_priority if t is None else t)
        t = self.target_dedicated
        return float(self.current_dedicated if t is None else t)


class MetricHistory:
    """Samples per metric (`$PendingTasks`, `$CPUPercent`, ...), kept in time order."""

    def __init__(self, period: timedelta = SAMPLE_PERIOD) -> None:
        self.period = period
        self._times: dict[str, list[float]] = {}
        self._values: dict[str, list[float]] = {}

    def append(self, metric: str, timestamp: datetime | float, value: float) -> None:
        key = _key(metric)
        t = timestamp if isinstance(timestamp, int | float) else to_seconds(timestamp)
        times = self._times.setdefault(key, [])
        values = self._values.setdefault(key, [])
        if not times or t >= times[-1]:
            times.append(float(t))
            values.append(float(value))
        else:
            i = bisect.bisect_right(times, t)
            times.insert(i, float(t))
            values.insert(i, float(value))

    def extend(self, metric: str, samples: Iterable[tuple[datetime | float, float]]) -> None:
        for timestamp, value in samples:
            self.append(metric, timestamp, value)

    def samples(self, metric: str) -> list[tuple[float, float]]:
        key = _key(metric)
        return list(zip(self._times.get(key, ()), self._values.get(key, ()), strict=True))

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(self._times)

    @classmethod
    def from_samples(cls, samples: Iterable[Mapping[str, object]], period: timedelta = SAMPLE_PERIOD,
                     ) -> MetricHistory:
        """From rows like {"time": <epoch seconds or datetime>, "$PendingTasks": 3, "$ActiveTasks": 1}."""
        history = cls(period)
        for row in samples:
            when = row.get("time", row.get("timestamp"))
            if not isinstance(when, int | float | datetime):
                raise ValueError(f"sample without a time: {dict(row)!r}")
            for name, value in row.items():
                if name not in ("time", "timestamp"):
                    history.append(name if name.startswith("$") else "$" + name, when, float(value))  # type: ignore[arg-type]
        return history

    @classmethod
    def constant(cls, values: Mapping[str, float | Sequence[float]], now: datetime,
                 span: timedelta = timedelta(hours=1), period: timedelta = SAMPLE_PERIOD) -> MetricHistory:
        """A complete history ending at `now`: a number repeats over `span`; a sequence gives the
        most recent samples, oldest first, one period apart."""
        history = cls(period)
        end, step = to_seconds(now), period.total_seconds()
        for metric, value in values.items():
            series = [float(value)] * int(span / period) if isinstance(value, int | float) else list(value)
            for i, x in enumerate(series):
                history.append(metric, end - (len(series) - 1 - i) * step, x)
        return history

    # Queries. Times are float epoch seconds; only samples at or before `now` exist.
    def _series(self, metric: str, now: float) -> tuple[list[float], list[float], int]:
        times = self._times.get(metric, [])
        return times, self._values.get(metric, []), bisect.bisect_right(times, now)

    def last(self, metric: str, count: float, now: float) -> tuple[float, ...]:
        _, values, hi = self._series(metric, now)
        n = hi if count >= hi else int(count) if count > 0 else 0  # NaN compares false: no samples
        return tuple(values[hi - n:hi])

    def window(self, metric: str, start: float, end: float, now: float) -> tuple[tuple[float, ...], float]:
        """Samples with start < time <= end, and the percentage of the expected ones that they are."""
        times, values, hi = self._series(metric, min(end, now))
        lo = bisect.bisect_right(times, start, 0, hi)
        found = values[lo:hi]
        duration = end - start
        if duration <= 0:
            return tuple(found), 100.0
        return tuple(found), min(100.0, 100.0 * len(found) * self.period.total_seconds() / duration)

    def count(self, metric: str, now: float) -> int:
        return self._series(metric, now)[2]

    def begin(self, metric: str, now: float) -> float | None:
        times, _, hi = self._series(metric, now)
        return times[0] if hi else None


def _key(metric: str) -> str:
    key = canonical_metric(metric)
    if key is None:
        raise ValueError(f"{metric!r} is not a read-only Batch metric")
    return key
