"""Replay how Batch would drive an autoscale pool through a trace of task arrivals. Pure computation.

Every `sample_period` (30 s) the pool's metrics are sampled; each sample becomes visible to the
formula `sample_delay` later. Every `evaluation_interval`, starting when the pool is created, the
formula is evaluated on the visible history and the pool is resized to its targets (a failed
evaluation leaves the pool as it is). Requested nodes become ready after `ready_time`; tasks run on
task slots; spot nodes are preempted at `preempt_rate`. Pool mechanics are in simpool.py.

Open points of reference §B10, and what this simulator (and the evaluator) decide:
- Operator precedence: C's (|| < && < == != < relational < + - < * / < unary), ternary lowest, right-assoc.
- Number format in results: %g with 6 significant digits, integers in full, NaN / Infinity as .NET.
- Metric variables as scalars: node counts and $TaskSlotsPerNode may be read bare (the docs' examples
  do); task and resource metrics must go through a sample method, anything else is a located error.
- GetSamplePercent returns a double (every example compares it to a number).
- Names are case-sensitive; a user variable differing from a service name only in case is an error,
  so the formula means the same whichever way Batch treats case. Only `//` comments exist.
- A negative target counts as 0; a NaN or infinite target fails the evaluation; fractions truncate.
Choices of the simulator itself:
- sample_delay defaults to 30 s: the one real observation (a pool's results showing $samples=96.6667
  over 15 minutes, i.e. 29 of 30 samples) fits it; the docs only say "about a minute".
- Metrics: $ActiveTasks = queued tasks, $RunningTasks = running, $PendingTasks = both,
  $SucceededTasks / $FailedTasks = completed / terminated so far, $CPUPercent = busy slots over the
  slots of ready nodes (no sample without ready nodes), $SampleNodeCount = ready nodes; the other
  resource metrics read 0. Only the metrics the formula reads are recorded.
- The first evaluation happens when the pool is created (t = 0) with an empty history.
- `node_limit` per node kind stands in for the account's core quota.
- Wait = time a task spent queued, summed over its attempts; makespan = first arrival to last task end.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bigcompute.autoscale.errors import AutoScaleRunError
from bigcompute.autoscale.evaluate import evaluate
from bigcompute.autoscale.formula import Formula
from bigcompute.autoscale.history import SAMPLE_PERIOD, MetricHistory, PoolState
from bigcompute.autoscale.simpool import ARRIVE, PoolModel
from bigcompute.autoscale.simreport import SimResult, Summary
from bigcompute.autoscale.traces import Trace
from bigcompute.autoscale.values import to_seconds

DEFAULT_START = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday, midnight UTC


class Prices(Protocol):
    dedicated_per_hour: float
    spot_per_hour: float


@dataclass(frozen=True)
class SimConfig:
    formula: Formula
    evaluation_interval: timedelta = timedelta(minutes=15)  # Batch's default
    task_slots_per_node: int = 1
    ready_time: timedelta = timedelta(minutes=5)
    preempt_rate: float = 0.0  # preemptions per spot node-hour
    sample_period: timedelta = SAMPLE_PERIOD
    sample_delay: timedelta = timedelta(seconds=30)
    start: datetime | None = None  # default: the trace's own start, else DEFAULT_START
    tail: timedelta = timedelta(hours=1)  # keep going after the last task so scale-down is billed
    limit: timedelta | None = None  # hard stop; default: the last arrival plus one day
    pricing: Prices | None = None
    node_limit: int = 1000
    fill: str = "spread"  # Batch's nodeFillType: spread | pack
    seed: int = 0


@dataclass
class _Series:
    columns: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in SimResult.COLUMNS})

    def add(self, *row: float) -> None:
        for column, value in zip(self.columns.values(), row, strict=True):
            column.append(value)


def check_config(config: SimConfig) -> None:
    """Raise ValueError for settings the event loop cannot make progress with."""
    if config.evaluation_interval <= timedelta(0) or config.sample_period <= timedelta(0):
        raise ValueError("the evaluation interval and the sample period must be positive")
    if config.ready_time < timedelta(0) or config.sample_delay < timedelta(0) or config.tail < timedelta(0):
        raise ValueError("ready time, sample delay and tail cannot be negative")
    if not 0 <= config.preempt_rate <= 3600:
        raise ValueError("the preemption rate must be between 0 and 3600 per node-hour")
    if config.preempt_rate and config.ready_time < timedelta(seconds=1):
        raise ValueError("with preemption, nodes need a ready time of at least one second to come back")
    if config.task_slots_per_node < 1 or config.node_limit < 1:
        raise ValueError("task slots per node and the node limit must be at least 1")


def simulate(trace: Trace, config: SimConfig) -> SimResult:
    check_config(config)
    start = config.start or trace.start or DEFAULT_START
    epoch = to_seconds(start)
    period, interval = config.sample_period.total_seconds(), config.evaluation_interval.total_seconds()
    delay, tail = config.sample_delay.total_seconds(), config.tail.total_seconds()
    limit = config.limit.total_seconds() if config.limit is not None else trace.span + 86400.0
    pool = PoolModel(config.task_slots_per_node, config.ready_time.total_seconds(), config.preempt_rate,
                     random.Random(config.seed), config.node_limit, config.fill)
    arrivals = [(a.at, a.count, a.duration) for a in trace.arrivals]
    for i, (at, _, _) in enumerate(arrivals):
        pool.push(at, ARRIVE, i)
    history, visible = MetricHistory(config.sample_period), deque[tuple[float, dict[str, float]]]()
    probes = _probes(pool, config.formula.metrics, config.task_slots_per_node)
    series, log = _Series(), []
    targets, peak, errors, first_error = (0, 0), 0, 0, None
    samples = evals = 0
    total, t = trace.tasks, 0.0
    while True:
        t_sample, t_eval = samples * period, evals * interval
        t = min(t_sample, t_eval)
        if t > limit:
            t = limit
            break
        pool.run_until(t, arrivals)
        finished = pool.completed + pool.terminated
        if len(pool.duration) == total == finished and t >= max(pool.last_done, trace.span) + tail:
            break
        if t == t_sample:  # sample before evaluating: a sample is never visible at its own instant
            visible.append((epoch + t, {key: probe() for key, probe in probes.items()}))
        if t == t_eval:
            while visible and visible[0][0] + delay <= epoch + t:
                when, values = visible.popleft()
                for key, value in values.items():
                    if value is not None:
                        history.append(key, when, value)
            state = PoolState(pool.current(False), pool.current(True), targets[0], targets[1],
                              pool.counts[1][3], pool.ready(False) + pool.ready(True), config.task_slots_per_node)
            result = evaluate(config.formula, history, state, datetime.fromtimestamp(epoch + t, UTC),
                              seed=config.seed * 1_000_003 + evals)
            log.append((t, result.results, result.error.code if result.error else ""))
            if result.error is None:
                targets = (result.target_dedicated, result.target_low_priority)
                pool.resize(t, targets[0], targets[1], result.node_deallocation_option)
                peak = max(peak, pool.current(False) + pool.current(True))
            else:
                errors += 1
                first_error = first_error or _describe(result.error)
            evals += 1
        if t == t_sample:  # after any resize, so the series shows what this instant is billed for
            series.add(t, len(pool.queue), pool.running, *targets, pool.current(False), pool.current(True),
                       pool.ready(False), pool.ready(True), pool.counts[1][3], pool.billed(False), pool.billed(True))
            samples += 1
    pool.advance(t)
    return SimResult(_summary(pool, trace, config, t, peak, evals, errors, first_error), series.columns,
                     tuple(log), start)


def _describe(error: AutoScaleRunError) -> str:
    detail = "; ".join(value for _, value in error.values)
    return f"{error.code}: {detail or error.message}"


def _probes(pool: PoolModel, metrics: frozenset[str], slots: int) -> dict[str, Callable[[], float | None]]:
    def cpu() -> float | None:  # None: no node to report CPU, so no sample
        total = (pool.ready(False) + pool.ready(True)) * slots
        return 100.0 * pool.running / total if total else None

    known = {
        "$ActiveTasks": lambda: float(len(pool.queue)),
        "$RunningTasks": lambda: float(pool.running),
        "$PendingTasks": lambda: float(len(pool.queue) + pool.running),
        "$SucceededTasks": lambda: float(pool.completed),
        "$FailedTasks": lambda: float(pool.terminated),
        "$CPUPercent": cpu,
        "$SampleNodeCount": lambda: float(pool.ready(False) + pool.ready(True)),
        "$CurrentDedicatedNodes": lambda: float(pool.current(False)),
        "$CurrentLowPriorityNodes": lambda: float(pool.current(True)),
        "$PreemptedNodeCount": lambda: float(pool.counts[1][3]),
        "$UsableNodeCount": lambda: float(pool.ready(False) + pool.ready(True)),
        "$TaskSlotsPerNode": lambda: float(slots),
    }
    return {key: known.get(key, lambda: 0.0) for key in sorted(metrics)}


def _summary(pool: PoolModel, trace: Trace, config: SimConfig, end: float, peak: int, evals: int,
             errors: int, first_error: str | None) -> Summary:
    waits = sorted(pool.waits)
    finished = pool.completed + pool.terminated
    first = trace.arrivals[0].at if trace.arrivals else 0.0
    hours = [s / 3600.0 for s in pool.node_seconds]
    prices = config.pricing
    return Summary(
        tasks=trace.tasks, completed=pool.completed, terminated=pool.terminated,
        unfinished=trace.tasks - finished, requeued=pool.requeued,
        node_hours_dedicated=hours[0], node_hours_spot=hours[1],
        cost=(hours[0] * prices.dedicated_per_hour + hours[1] * prices.spot_per_hour) if prices else None,
        wait_mean=sum(waits) / len(waits) if waits else None,
        wait_p95=waits[max(0, math.ceil(0.95 * len(waits)) - 1)] if waits else None,
        makespan=pool.last_done - first if finished == trace.tasks and trace.tasks else None,
        peak_nodes=peak, evaluations=evals, evaluation_errors=errors, first_error=first_error,
        simulated=end)
