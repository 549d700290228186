"""Replay how Batch would drive an autoscale pool through a trace of task arrivals. Pure computation.

Every `sample_period` (30 s) the pool's metrics are sampled; each sample becomes visible to the
formula `sample_delay` later (drawn up to `sample_delay_max` per sample; a share `sample_drop` never
arrives). Every `evaluation_interval`, starting `evaluation_phase` after the pool is created, the
formula is evaluated on the visible history and the pool is resized to its targets (a failed
evaluation leaves the pool as it is), within the node limit and the core quota. Requested nodes become
ready after `ready_time` (drawn up to `ready_time_max` per node); tasks run on task slots; spot nodes
are preempted at `preempt_rate` and during `spot_outages`. Pool mechanics are in simpool.py; every
assumption is printed with the report (`assumptions()`).

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
- `node_limit` per node kind, and the core quota divided by the size's vCPUs, cap the nodes.
- Sample delay, start-up time and preemptions come from separate random streams seeded by `seed`,
  so two configurations run with the same seed see the same sample delays and drops.
- Wait = time a task spent queued, summed over its attempts; makespan = first arrival to last task end.
- An evaluation while the pool is still resizing: Batch's docs say only that "an unfinished previous resize"
  can keep a target from being reached, and a manual resize of a pool that is not steady is refused (409).
  `retarget="immediate"` (default) applies the new target at once, taking back draining nodes;
  `retarget="after-resize"` leaves the pool as it is until the resize has finished (the evaluation's
  target is not applied and is counted), the pessimistic reading. Run both with --retarget.
- Allocation failures (`allocation_failure`, a share of node requests) come from their own random stream.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bigcompute.autoscale.durations import format_duration
from bigcompute.autoscale.errors import AutoScaleRunError
from bigcompute.autoscale.evaluate import evaluate
from bigcompute.autoscale.formula import Formula
from bigcompute.autoscale.history import SAMPLE_PERIOD, MetricHistory, PoolState
from bigcompute.autoscale.limits import DEFAULT_INTERVAL, QUOTA_DOC, interval_problem, nodes_within_quota
from bigcompute.autoscale.simpool import ARRIVE, PoolModel
from bigcompute.autoscale.simreport import ACTIVITIES, KINDS, SimResult, Summary
from bigcompute.autoscale.traces import Trace
from bigcompute.autoscale.values import to_seconds

DEFAULT_START = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday, midnight UTC
TASK_RETENTION = timedelta(days=7)  # Batch's default task retentionTime (task constraints)
MIN_RESIZE_TIMEOUT = timedelta(minutes=5)  # pool resizeTimeout: default 15 min, min 5 min (Batch REST, pool add)
RETARGET = ("immediate", "after-resize")


class Prices(Protocol):
    dedicated_per_hour: float
    spot_per_hour: float


@dataclass(frozen=True)
class SimConfig:
    formula: Formula
    evaluation_interval: timedelta = DEFAULT_INTERVAL  # Batch's default
    task_slots_per_node: int = 1
    ready_time: timedelta = timedelta(minutes=5)
    ready_time_max: timedelta | None = None  # start-up drawn uniformly in [ready_time, this] per node
    preempt_rate: float = 0.0  # preemptions per spot node-hour
    sample_period: timedelta = SAMPLE_PERIOD
    sample_delay: timedelta = timedelta(seconds=30)
    sample_delay_max: timedelta | None = None  # delay drawn uniformly in [sample_delay, this] per sample
    sample_drop: float = 0.0  # share of samples that never arrive
    evaluation_phase: timedelta = timedelta(0)  # the first evaluation, after the pool is created
    spot_outages: tuple[tuple[timedelta, timedelta], ...] = ()  # (start, length): no spot capacity
    start: datetime | None = None  # default: the trace's own start, else DEFAULT_START
    tail: timedelta = timedelta(hours=1)  # keep going after the last task so scale-down is billed
    limit: timedelta | None = None  # hard stop; default: the last arrival plus one day
    fixed_span: bool = False  # bill exactly until `limit`, however early the work ends (comparisons)
    pricing: Prices | None = None
    currency: str = "USD"
    node_limit: int = 1000
    vcpus_per_node: int | None = None
    core_quota: int | None = None  # dedicated vCPUs of the account
    spot_core_quota: int | None = None
    fill: str = "spread"  # Batch's nodeFillType: spread | pack
    task_retention: timedelta = TASK_RETENTION  # how long retaineddata keeps a node after its last task
    sla: timedelta | None = None  # longest acceptable wait
    cpu_scale: float = 100.0  # what $CPUPercent reads at full load (the docs disagree: 100 or 1)
    allocation_failure: float = 0.0  # share of node requests that fail (resize errors)
    resize_timeout: timedelta = timedelta(minutes=15)  # Batch's default resizeTimeout
    retarget: str = "immediate"  # while resizing: "immediate" or "after-resize" (see the module docstring)
    seed: int = 0

    def node_limits(self) -> tuple[int, int]:
        """Most dedicated and spot nodes: the node limit, or fewer when the core quota allows fewer."""
        def cap(quota: int | None) -> int:
            fit = nodes_within_quota(self.vcpus_per_node, quota) if self.vcpus_per_node else None
            return self.node_limit if fit is None else min(self.node_limit, fit)

        return cap(self.core_quota), cap(self.spot_core_quota)


@dataclass
class _Series:
    columns: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in SimResult.COLUMNS})

    def __post_init__(self) -> None:
        self._lists = list(self.columns.values())

    def add(self, *row: float) -> None:
        for column, value in zip(self._lists, row):  # noqa: B905 - one value per column, by construction
            column.append(value)


def check_config(config: SimConfig, trace: Trace | None = None) -> None:
    """Raise ValueError for settings Batch would refuse or the event loop cannot make progress with."""
    problem = interval_problem(config.evaluation_interval)
    if problem:
        raise ValueError(problem)
    if config.sample_period <= timedelta(0):
        raise ValueError("the sample period must be positive")
    if config.ready_time < timedelta(0) or config.sample_delay < timedelta(0) or config.tail < timedelta(0):
        raise ValueError("ready time, sample delay and tail cannot be negative")
    if (config.ready_time_max or config.ready_time) < config.ready_time or \
            (config.sample_delay_max or config.sample_delay) < config.sample_delay:
        raise ValueError("a maximum start-up time or sample delay cannot be below its minimum")
    if not 0 <= config.sample_drop < 1:
        raise ValueError("the share of dropped samples must be at least 0 and below 1")
    if not timedelta(0) <= config.evaluation_phase <= config.evaluation_interval:
        raise ValueError("the evaluation phase must be between 0 and the evaluation interval")
    if not 0 <= config.preempt_rate <= 3600:
        raise ValueError("the preemption rate must be between 0 and 3600 per node-hour")
    if (config.preempt_rate or config.spot_outages) and config.ready_time < timedelta(seconds=1):
        raise ValueError("with preemption, nodes need a ready time of at least one second to come back")
    if not 0 <= config.allocation_failure < 1:
        raise ValueError("the share of failed node allocations must be at least 0 and below 1")
    if config.resize_timeout < MIN_RESIZE_TIMEOUT:
        raise ValueError("the resize timeout must be at least 5 minutes (Batch's minimum resizeTimeout)")
    if config.retarget not in RETARGET:
        raise ValueError(f"retarget must be one of {', '.join(RETARGET)}")
    if config.task_slots_per_node < 1 or config.node_limit < 1:
        raise ValueError("task slots per node and the node limit must be at least 1")
    widest = max((a.slots for a in trace.arrivals), default=1) if trace else 1
    if widest > config.task_slots_per_node:
        raise ValueError(f"tasks needing {widest} slots can never run on nodes with {config.task_slots_per_node} "
                         "task slots (Batch leaves them queued; give the pool more taskSlotsPerNode)")


def assumptions(config: SimConfig, trace: Trace) -> dict[str, str]:
    """What the simulation took as given, in words: printed with every report."""
    def span(low: timedelta, high: timedelta | None) -> str:
        return format_duration(low) if high is None or high == low else \
            f"uniform {format_duration(low)}-{format_duration(high)}"

    prices = config.pricing
    limits = config.node_limits()
    out = {
        "evaluation": f"every {format_duration(config.evaluation_interval)}, first at "
                      f"+{format_duration(config.evaluation_phase)}",
        "sample delay": span(config.sample_delay, config.sample_delay_max)
        + (f", {100 * config.sample_drop:g}% of samples dropped" if config.sample_drop else ", none dropped"),
        "node start-up": span(config.ready_time, config.ready_time_max),
        "spot": f"{config.preempt_rate:g} preemptions per node-hour"
        + (f", {len(config.spot_outages)} capacity outage(s) of "
           + ", ".join(format_duration(d) for _, d in config.spot_outages) if config.spot_outages else
           ", no capacity outage"),
        "node limit": f"{limits[0]} dedicated, {limits[1]} spot"
        + (f" ({config.vcpus_per_node} vCPUs per node; core quota {config.core_quota or '-'} dedicated, "
           f"{config.spot_core_quota or '-'} spot)" if config.vcpus_per_node else " (no core quota given)"),
        "task slots": f"{config.task_slots_per_node} per node, {config.fill} fill",
        "prices": f"{prices.dedicated_per_hour:g} {config.currency} dedicated, {prices.spot_per_hour:g} "
                  f"{config.currency} spot per node-hour" if prices else "none (no cost)",
        "billing": "from a node's request until it leaves, except while preempted",
        "resizes": (f"{100 * config.allocation_failure:g}% of node requests fail (resize timeout "
                    f"{format_duration(config.resize_timeout)})" if config.allocation_failure else
                    "every node request allocated")
        + ("; a target set while resizing applies at once" if config.retarget == "immediate" else
           "; a target set while resizing waits for the resize to finish"),
        "trace": f"{trace.tasks} tasks in {len(trace.arrivals)} arrivals over {format_duration(timedelta(seconds=round(trace.span)))}",
    }
    if "$CPUPercent" in config.formula.metrics:
        out["$CPUPercent"] = f"busy task slots over the slots of ready nodes, {config.cpu_scale:g} at full load"
    widest = max((a.slots for a in trace.arrivals), default=1)
    if widest > 1:
        out["multi-slot tasks"] = f"up to {widest} slots per task; Batch's task metrics count tasks, not slots"
    return out


def simulate(trace: Trace, config: SimConfig) -> SimResult:
    check_config(config, trace)
    start = config.start or trace.start or DEFAULT_START
    epoch = to_seconds(start)
    period, interval = config.sample_period.total_seconds(), config.evaluation_interval.total_seconds()
    phase = config.evaluation_phase.total_seconds()
    tail = config.tail.total_seconds()
    limit = config.limit.total_seconds() if config.limit is not None else trace.span + 86400.0
    sample_rng, node_rng = random.Random(config.seed * 7 + 1), random.Random(config.seed * 7 + 2)
    ready_low, ready_high = config.ready_time.total_seconds(), (config.ready_time_max or config.ready_time).total_seconds()
    ready = (lambda: ready_low) if ready_high == ready_low else (lambda: node_rng.uniform(ready_low, ready_high))
    delay_low = config.sample_delay.total_seconds()
    delay_high = (config.sample_delay_max or config.sample_delay).total_seconds()
    outages = tuple((s.total_seconds(), s.total_seconds() + d.total_seconds()) for s, d in sorted(config.spot_outages))
    pool = PoolModel(config.task_slots_per_node, ready, config.preempt_rate, random.Random(config.seed),
                     config.node_limits(), config.fill, config.task_retention.total_seconds(), outages,
                     config.allocation_failure, config.resize_timeout.total_seconds(),
                     random.Random(config.seed * 7 + 3))
    arrivals = [(a.at, a.count, a.duration, a.slots) for a in trace.arrivals]
    for i, (at, _, _, _) in enumerate(arrivals):
        pool.push(at, ARRIVE, i)
    history, pending = MetricHistory(config.sample_period), list[tuple[float, int, dict[str, float]]]()
    queued = deque[tuple[float, int, dict[str, float]]]()
    fixed_delay, drop = delay_high == delay_low, config.sample_drop
    probes = _probes(pool, config.formula.metrics, config.task_slots_per_node, config.cpu_scale)
    series, log = _Series(), []
    targets, peak, errors, first_error, deferred = (0, 0), 0, 0, None, 0
    wait_for_resize = config.retarget == "after-resize"
    samples = evals = 0
    total, t = trace.tasks, 0.0
    while True:
        t_sample, t_eval = samples * period, phase + evals * interval
        t = min(t_sample, t_eval)
        if t > limit:
            t = limit
            break
        pool.run_until(t, arrivals)
        finished = pool.completed + pool.terminated
        if not config.fixed_span and len(pool.duration) == total == finished and \
                t >= max(pool.last_done, trace.span) + tail:
            break
        if t == t_sample and probes:  # sample before evaluating: a sample is never visible at its own instant
            if drop and sample_rng.random() < drop:
                pass
            elif fixed_delay:  # visible in the order taken
                queued.append((t + delay_low, samples, {key: probe() for key, probe in probes.items()}))
            else:
                heapq.heappush(pending, (t + sample_rng.uniform(delay_low, delay_high), samples,
                                         {key: probe() for key, probe in probes.items()}))
        if t == t_eval:
            visible = []
            while queued and queued[0][0] <= t:
                visible.append(queued.popleft())
            while pending and pending[0][0] <= t:
                visible.append(heapq.heappop(pending))
            for _, number, values in visible:
                for key, value in values.items():
                    if value is not None:
                        history.append(key, epoch + number * period, value)
            state = PoolState(pool.current(False), pool.current(True), targets[0], targets[1],
                              pool.counts[1][3], pool.ready(False) + pool.ready(True), config.task_slots_per_node)
            result = evaluate(config.formula, history, state, datetime.fromtimestamp(epoch + t, UTC),
                              seed=config.seed * 1_000_003 + evals)
            log.append((t, result.results, result.error.code if result.error else ""))
            if result.error is None and wait_for_resize and pool.resizing(t):
                wanted = (result.target_dedicated, result.target_low_priority)
                # held back: a new target, or a pool short of its target that a resize would top up
                deferred += wanted != targets or wanted != (pool.current(False), pool.current(True))
            elif result.error is None:
                targets = (result.target_dedicated, result.target_low_priority)
                pool.resize(t, targets[0], targets[1], result.node_deallocation_option)
                (a0, r0, _, _), (a1, r1, _, _) = pool.counts  # starting or taking tasks: what maxNodes bounds
                peak = max(peak, a0 + r0 + a1 + r1)
            else:
                errors += 1
                first_error = first_error or _describe(result.error)
            evals += 1
        if t == t_sample:  # after any resize, so the series shows what this instant is billed for
            (a0, r0, d0, p0), (a1, r1, d1, p1) = pool.counts  # allocating, ready, draining, preempted
            series.add(t, len(pool.queue), pool.running, *targets, a0 + r0 + d0 + p0, a1 + r1 + d1 + p1,
                       r0 + d0, r1 + d1, p1, a0 + r0 + d0, a1 + r1 + d1)
            samples += 1
    pool.advance(t)
    return SimResult(_summary(pool, trace, config, t, peak, evals, errors, first_error, deferred), series.columns,
                     tuple(log), start, assumptions(config, trace))


def _describe(error: AutoScaleRunError) -> str:
    detail = "; ".join(value for _, value in error.values)
    return f"{error.code}: {detail or error.message}"


def _probes(pool: PoolModel, metrics: frozenset[str], slots: int,
            cpu_scale: float = 100.0) -> dict[str, Callable[[], float | None]]:
    def cpu() -> float | None:  # None: no node to report CPU, so no sample
        total = (pool.ready(False) + pool.ready(True)) * slots
        return cpu_scale * pool.busy_slots_all() / total if total else None

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


def _rank(ordered: list[float], q: float) -> float | None:
    """The nearest-rank percentile of sorted values."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else None


def _summary(pool: PoolModel, trace: Trace, config: SimConfig, end: float, peak: int, evals: int,
             errors: int, first_error: str | None, deferred: int = 0) -> Summary:
    waits = sorted(pool.waits)
    finished = pool.completed + pool.terminated
    first = trace.arrivals[0].at if trace.arrivals else 0.0
    u = pool.usage
    hours = {kind: {part: getattr(u, part)[i] / 3600.0 for part in ACTIVITIES} for i, kind in enumerate(KINDS)}
    billed = [u.billed(i) / 3600.0 for i in (0, 1)]
    prices = config.pricing
    rates = (prices.dedicated_per_hour, prices.spot_per_hour) if prices else None
    costs = {kind: {part: h * rates[i] for part, h in hours[kind].items()} for i, kind in enumerate(KINDS)} \
        if rates else None
    busy = sum(hours[kind]["busy"] for kind in KINDS)
    sla = config.sla.total_seconds() if config.sla is not None else None
    return Summary(
        tasks=trace.tasks, completed=pool.completed, terminated=pool.terminated,
        unfinished=trace.tasks - finished, requeued=pool.requeued,
        node_hours_dedicated=billed[0], node_hours_spot=billed[1], node_hours=hours,
        utilisation=busy / sum(billed) if sum(billed) else None, currency=config.currency,
        cost=(billed[0] * rates[0] + billed[1] * rates[1]) if rates else None, cost_breakdown=costs,
        wait_mean=sum(waits) / len(waits) if waits else None,
        wait_p50=_rank(waits, 0.5), wait_p90=_rank(waits, 0.9), wait_p95=_rank(waits, 0.95),
        wait_p99=_rank(waits, 0.99), wait_max=waits[-1] if waits else None,
        sla=sla, sla_misses=None if sla is None else
        sum(1 for w in waits if w > sla) + pool.terminated + (trace.tasks - finished),
        node_starts=pool.node_starts,
        work_lost_preemption=pool.lost["preemption"] / 3600.0, work_lost_scale_down=pool.lost["scale-down"] / 3600.0,
        makespan=pool.last_done - first if finished == trace.tasks and trace.tasks else None,
        peak_nodes=peak, evaluations=evals, evaluation_errors=errors, first_error=first_error,
        quota_capped=pool.short[0], spot_unavailable=pool.short[1], resize_errors=pool.resize_errors,
        deferred_targets=deferred, simulated=end,
        warnings=tuple(_warnings(pool, trace, config, errors, evals, deferred)))


def _warnings(pool: PoolModel, trace: Trace, config: SimConfig, errors: int, evals: int,
              deferred: int = 0) -> list[str]:
    out = []
    wide = sum(a.count for a in trace.arrivals if a.slots > 1)
    if wide:
        out.append(f"{wide} of {trace.tasks} tasks take more than one task slot: Batch's task metrics "
                   "($ActiveTasks, $RunningTasks, $PendingTasks) count tasks, not slots, so a formula that divides "
                   "them by $TaskSlotsPerNode asks for too few nodes (presets: set slotsPerTask)")
    limits = config.node_limits()
    if pool.short[0]:
        out.append(f"{pool.short[0]} resizes asked for more dedicated nodes than the limit of {limits[0]}"
                   + (f" ({config.core_quota} cores / {config.vcpus_per_node} vCPUs per node)" if
                      config.core_quota and config.vcpus_per_node else "")
                   + f": Batch creates nodes only up to the quota ({QUOTA_DOC})")
    if pool.short[1]:
        out.append(f"{pool.short[1]} resizes could not get all the spot nodes asked for (spot quota of {limits[1]} "
                   "nodes or no spot capacity)")
    if pool.resize_errors:
        out.append(f"{pool.resize_errors} node requests failed to allocate (resize errors); each kept the pool "
                   f"resizing for {format_duration(config.resize_timeout)} and was asked for again later")
    if deferred:
        out.append(f"{deferred} of {evals} evaluations came while the pool was still resizing; their targets were "
                   "not applied (--retarget after-resize)")
    if errors:
        out.append(f"{errors} of {evals} evaluations failed; the pool kept its size each time")
    return out
