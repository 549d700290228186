"""The state one evaluation runs on, shared by the compiled closures."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from bigcompute.autoscale.history import MetricHistory, PoolState
from bigcompute.autoscale.values import T


@dataclass
class Runtime:
    now: float  # epoch seconds
    history: MetricHistory
    pool: PoolState
    rng: random.Random
    vars: dict[str, object] = field(default_factory=dict)
    types: dict[str, T] = field(default_factory=dict)  # of user variables, for printing
    written_at: dict[str, tuple[int, int]] = field(default_factory=dict)  # service variable -> (line, column)


Fn = Callable[[Runtime], object]


class Stop(Exception):
    """stop(): end the evaluation here, keeping what was assigned so far."""
