"""Autoscale: formula evaluations per second, and the time to simulate a week of a pool.

Each figure stands beside a floor measured in the same run: a bare Python loop over the same samples
doing the same arithmetic with no parser, types or simulator around it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from bench.harness import Figure, timed
from bigcompute.autoscale import MetricHistory, PoolState, evaluate, parse
from bigcompute.autoscale.examples import DOCS_EXAMPLES
from bigcompute.autoscale.presets import render
from bigcompute.autoscale.simulate import SimConfig, simulate
from bigcompute.autoscale.traces import parse_spec

NOW = datetime(2025, 1, 8, 12, tzinfo=UTC)
WEEK_SAMPLES = 7 * 24 * 120  # one sample every 30 s
EVAL_EVERY = 10  # samples between 5-minute evaluations


def _rate(fn, seconds: float = 1.0) -> float:  # noqa: ANN001 - a zero-argument callable
    """Calls per second of `fn`, the best of three rounds of about `seconds` / 3 each."""
    best = 0.0
    for _ in range(3):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / 3:
            for _ in range(50):
                fn()
            n += 50
        best = max(best, n / elapsed)
    return best


def _evaluations() -> Figure:
    name, text = max(DOCS_EXAMPLES.items(), key=lambda item: len(item[1]))
    formula = parse(text)
    values = [float(i % 7) for i in range(120)]  # an hour of $ActiveTasks, every 30 s
    history = MetricHistory.constant({"$PendingTasks": values}, NOW)
    pool = PoolState(current_dedicated=2, task_slots_per_node=4)
    result = evaluate(formula, history, pool, NOW)
    assert name == "B9-7" and result.error is None, result.error
    samples = list(zip(*history.samples("$PendingTasks"), strict=True))
    times, counts = list(samples[0]), list(samples[1])
    now = NOW.timestamp()

    def bare() -> int:  # B9-7 by hand over the same samples
        window = [v for t, v in zip(times, counts, strict=True) if now - 900 < t <= now]
        percent = 100.0 * len(window) / 30
        last = counts[-1]
        tasks = max(0.0, last) if percent < 70 else max(last, sum(window) / len(window))
        target_vms = tasks if tasks > 0 else max(0.0, 2 / 2)
        return int(max(0.0, min(target_vms, 20.0)))

    assert bare() == result.target_dedicated
    return Figure(f"evaluations/s, docs example {name} ({len(text)} chars)",
                  _rate(lambda: evaluate(formula, history, pool, NOW)), "eval/s",
                  floor=_rate(bare), floor_label="bare Python loop, same samples")


def _week() -> Figure:
    formula = parse(render("queue-pending", {"maxNodes": 20, "sampleWindow": "PT15M"}))
    trace = parse_spec("daily:peak=120/h,trough=10/h,duration=PT10M,for=P7D")
    config = SimConfig(formula, evaluation_interval=timedelta(minutes=5), task_slots_per_node=2, preempt_rate=0.0)
    seconds = min(timed(lambda: simulate(trace, config))[0] for _ in range(3))
    result = simulate(trace, config)
    assert result.summary.completed == trace.tasks and result.summary.evaluations >= 7 * 24 * 12

    def bare() -> None:  # sample every 30 s, average the last 15 minutes every 5 minutes
        samples: list[float] = []
        for i in range(WEEK_SAMPLES):
            samples.append(float(i % 13))
            if i % EVAL_EVERY == 0:
                window = samples[-30:]
                _ = sum(window) / len(window)

    floor = min(timed(bare)[0] for _ in range(3))
    return Figure("simulate one week (30 s samples, 5 min evaluations, 10.9k tasks)", seconds, "s", floor=floor,
                  floor_label="bare loop over the same 20160 samples", target="< 2 s", met=seconds < 2.0)


def run() -> list[Figure]:
    return [_evaluations(), _week()]
