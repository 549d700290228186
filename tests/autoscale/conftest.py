"""Shared helpers for the autoscale tests (fixtures only: test modules are imported by path)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import pytest

from bigcompute.autoscale import MetricHistory


def history(now: datetime, missing_last: int = 0, period: float = 30.0, span: timedelta = timedelta(hours=2),
            **series: float | Sequence[float]) -> MetricHistory:
    """A history ending at `now`: a constant per metric over `span`, or explicit samples, oldest first;
    the last `missing_last` samples of every metric are left out (as if they had not arrived yet)."""
    out = MetricHistory()
    end = now.timestamp()
    for name, value in series.items():
        values = [float(value)] * int(span.total_seconds() / period) if isinstance(value, int | float) \
            else [float(v) for v in value]
        for i, v in enumerate(values):
            age = (len(values) - 1 - i) * period
            if age >= missing_last * period:
                out.append("$" + name, end - age, v)
    return out


@pytest.fixture
def make_history() -> Callable[..., MetricHistory]:
    return history
