"""Value lists of generators (sweep, zip, combinations): lazy sequences, so a million values are never
materialized."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Parameter:
    name: str
    values: Sequence[Any]  # a list, or a lazy _Arithmetic sequence

    def __len__(self) -> int:
        return len(self.values)

    @property
    def numeric(self) -> bool:
        """Every value is a number (a range's always are)."""
        return isinstance(self.values, _Arithmetic) or all(isinstance(v, (int, float)) for v in self.values)

    @property
    def size(self) -> int:
        """The number of values, however large (len() stops at sys.maxsize)."""
        return self.values.length if isinstance(self.values, _Arithmetic) else len(self.values)


@dataclass(frozen=True)
class _Arithmetic(Sequence):
    """start + i*step for i in [0, count): no accumulated float error, O(1) memory."""

    start: float
    step: float
    length: int
    integral: bool

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.length))]
        if not -self.length <= i < self.length:
            raise IndexError(i)
        i %= self.length
        value = self.start + i * self.step
        return int(value) if self.integral else value

    def __iter__(self) -> Iterator[Any]:
        if self.integral:
            return iter(range(int(self.start), int(self.start + self.length * self.step), int(self.step)))
        return (self.start + i * self.step for i in range(self.length))


def distinct_integers(values: Sequence[Any]) -> bool:
    """The values are integers, no two equal, by construction (a range, or an integral arithmetic progression
    with a step): their decimal texts are distinct without a set of them."""
    return isinstance(values, range) or (isinstance(values, _Arithmetic) and values.integral and int(values.step) != 0)


def parameter(name: str, spec: Mapping[str, Any]) -> Parameter:
    if "values" in spec:
        return Parameter(name, tuple(spec["values"]))
    if "count" in spec:
        start, stop, count = spec["from"], spec["to"], spec["count"]
        step = (stop - start) / (count - 1) if count > 1 else 0.0
        return Parameter(name, _Arithmetic(float(start), step, count, integral=False))
    start, stop, step = spec["start"], spec["stop"], spec.get("step", 1)
    count = max(0, math.ceil((stop - start) / step - 1e-9))
    integral = all(isinstance(v, int) and not isinstance(v, bool) for v in (start, stop, step))
    return Parameter(name, _Arithmetic(start, step, count, integral))
