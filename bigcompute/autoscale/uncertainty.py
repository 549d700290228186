"""Many runs of the simulator with what Batch does not promise drawn at random, summarised as bands.

Each run draws: where the evaluation schedule falls (its phase), each node's start-up time, each sample's
delay and whether it is dropped (simulate.py, from the run's seed), a jitter on every arrival, and spot
capacity outages. Configurations compared run on the same draws (same run seeds, same jittered trace,
same outages) and are billed over the same span: the longer of the two runs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from bigcompute.autoscale.durations import format_duration
from bigcompute.autoscale.simreport import SimResult
from bigcompute.autoscale.simulate import SimConfig, simulate
from bigcompute.autoscale.traces import Arrival, Trace

WEEK = 7 * 86400.0


@dataclass(frozen=True)
class Spread:
    runs: int = 20
    seed: int = 0
    jitter: timedelta = timedelta(minutes=5)  # each arrival moves by up to this, either way
    outages_per_week: float = 1.0  # spot capacity outages (only matter to pools asking for spot)
    outage_length: timedelta = timedelta(hours=2)

    def describe(self) -> dict[str, str]:
        return {"runs": f"{self.runs} (seed {self.seed}); evaluation phase drawn uniformly within the interval",
                "arrival jitter": f"uniform +-{format_duration(self.jitter)} per arrival",
                "spot outages": f"Poisson, {self.outages_per_week:g} per week, {format_duration(self.outage_length)} "
                                "each, every spot node evicted at the start"}


def jitter(trace: Trace, rng: random.Random, spread: timedelta) -> Trace:
    j = spread.total_seconds()
    if not j:
        return trace
    moved = [Arrival(max(0.0, a.at + rng.uniform(-j, j)), a.count, a.duration, a.slots) for a in trace.arrivals]
    return Trace(tuple(sorted(moved, key=lambda a: a.at)), trace.start)


def _poisson(rng: random.Random, mean: float) -> int:
    count, total = 0, rng.expovariate(1.0) if mean > 0 else math.inf
    while total < mean:
        count += 1
        total += rng.expovariate(1.0)
    return count


def draw(base: SimConfig, trace: Trace, spread: Spread, run: int) -> tuple[SimConfig, Trace]:
    """Run `run`'s configuration and trace: the same for every configuration given the same base trace."""
    rng = random.Random(f"bigcompute-autoscale:{spread.seed}:{run}")
    phase = timedelta(seconds=rng.uniform(0, base.evaluation_interval.total_seconds()))
    moved = jitter(trace, rng, spread.jitter)
    span = moved.span + 86400.0
    length = spread.outage_length
    outages = tuple(sorted((timedelta(seconds=rng.uniform(0, span)), length)
                           for _ in range(_poisson(rng, spread.outages_per_week * span / WEEK))))
    return replace(base, evaluation_phase=phase, spot_outages=outages, seed=rng.randrange(2**31)), moved


def simulate_runs(trace: Trace, bases: Sequence[SimConfig], spread: Spread) -> list[list[SimResult]]:
    """results[c][r]: configuration c in run r. With several configurations, each run bills all of them
    over the same span."""
    out: list[list[SimResult]] = [[] for _ in bases]
    for run in range(spread.runs):
        drawn = [draw(base, trace, spread, run) for base in bases]
        results = [simulate(moved, config) for config, moved in drawn]
        if len(bases) > 1:
            span = timedelta(seconds=max(r.summary.simulated for r in results))
            results = [r if r.summary.simulated == span.total_seconds() else
                       simulate(moved, replace(config, limit=span, fixed_span=True))
                       for r, (config, moved) in zip(results, drawn, strict=True)]
        for c, result in enumerate(results):
            out[c].append(result)
    return out


def same_span(trace: Trace, bases: Sequence[SimConfig]) -> list[SimResult]:
    """One run of each configuration, billed over the same span."""
    results = [simulate(trace, config) for config in bases]
    span = timedelta(seconds=max(r.summary.simulated for r in results))
    return [r if r.summary.simulated == span.total_seconds() else
            simulate(trace, replace(config, limit=span, fixed_span=True))
            for r, config in zip(results, bases, strict=True)]


def _quantile(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def bands(results: Sequence[SimResult]) -> dict[str, tuple[float, float, float]]:
    """p10, p50 and p90 of every numeric figure over the runs (figures a run lacks, such as a wait when no
    task finished, are left out of that figure's band)."""
    values: dict[str, list[float]] = {}
    for result in results:
        for key, value in result.summary.metrics().items():
            values.setdefault(key, []).append(value)
    return {key: tuple(_quantile(sorted(v), q) for q in (0.1, 0.5, 0.9)) for key, v in values.items()}  # type: ignore[misc]


def failures(results: Sequence[SimResult]) -> str | None:
    """A flag when the formula failed any evaluation in any run, with the first error seen."""
    failed = [r.summary for r in results if r.summary.evaluation_errors]
    if not failed:
        return None
    evaluations = sum(s.evaluation_errors for s in failed)
    return (f"the formula failed {evaluations} evaluation(s) in {len(failed)} of {len(results)} runs; "
            f"first: {failed[0].first_error}")
