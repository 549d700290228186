"""Many runs with Batch's unpromised timings drawn at random: bands, flags for failing formulas, same draws
and same billed span for compared configurations."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bigcompute.autoscale import parse
from bigcompute.autoscale.presets import render
from bigcompute.autoscale.simulate import SimConfig, simulate
from bigcompute.autoscale.traces import parse_spec
from bigcompute.autoscale.uncertainty import Spread, bands, draw, failures, same_span, simulate_runs

FIVE = timedelta(minutes=5)
# The docs' pattern: "GetSample(TimeInterval_Minute * 10, 95)" needs 19 of the 20 samples of the window.
NINETY_FIVE = "$TargetDedicatedNodes = max($PendingTasks.GetSample(TimeInterval_Minute * 10, 95));"
TRACE = parse_spec("steady:rate=30/h,duration=PT10M,for=PT3H")


def config(formula: str, **kw: object) -> SimConfig:
    return SimConfig(parse(formula), **{"evaluation_interval": FIVE, **kw})  # type: ignore[arg-type]


def test_the_docs_95_percent_formula_fails_every_evaluation_with_samples_a_minute_late() -> None:
    # 30 s late: 19 of 20 samples are there once the pool is 10 minutes old (the first two evaluations lack
    # history); 60 s late (what the docs say to expect): 18 of 20, every evaluation fails, the pool never grows.
    quick = simulate(TRACE, config(NINETY_FIVE, sample_delay=timedelta(seconds=30))).summary
    result = simulate(TRACE, config(NINETY_FIVE, sample_delay=timedelta(seconds=60)))
    late = result.summary
    assert quick.evaluation_errors == 2 and quick.unfinished == 0
    assert late.evaluation_errors == late.evaluations > 30 and late.peak_nodes == 0 and late.unfinished == TRACE.tasks
    assert {code for _, _, code in result.evaluations} == {"InsufficientSampleData"}
    assert late.first_error is not None and "$PendingTasks wanted 95%" in late.first_error
    assert any(w.startswith(f"{late.evaluations} of {late.evaluations} evaluations failed") for w in late.warnings)


def test_runs_with_drawn_delays_flag_the_formula_that_fails() -> None:
    base = config(NINETY_FIVE, sample_delay=timedelta(seconds=30), sample_delay_max=timedelta(seconds=90),
                  sample_drop=0.02)
    results = simulate_runs(TRACE, [base], Spread(runs=4, seed=1))[0]
    flag = failures(results)
    assert flag is not None and flag.startswith("the formula failed ") and "in 4 of 4 runs; first: " in flag
    robust = config(render("queue-pending", {"maxNodes": 10}), sample_delay=timedelta(seconds=30),
                    sample_delay_max=timedelta(seconds=90), sample_drop=0.02)
    assert failures(simulate_runs(TRACE, [robust], Spread(runs=4, seed=1))[0]) is None


def test_draws_are_reproducible_and_vary_between_runs() -> None:
    base = config(render("queue-pending", {"maxNodes": 10}))
    spread = Spread(runs=3, seed=7, outages_per_week=20)
    one, two = draw(base, TRACE, spread, 0), draw(base, TRACE, spread, 0)
    assert one == two  # the same run of the same seed: the same phase, jitter, outages and run seed
    other = draw(base, TRACE, spread, 1)
    assert other[0].evaluation_phase != one[0].evaluation_phase and other[1] != one[1]
    assert timedelta(0) <= one[0].evaluation_phase < FIVE and one[0].spot_outages
    moved = sorted(a.at for a in one[1].arrivals)
    assert one[1].tasks == TRACE.tasks and moved != [a.at for a in TRACE.arrivals]
    assert all(abs(x - a.at) <= 300 for x, a in zip(moved, TRACE.arrivals, strict=True))  # +-5 min each


def test_compared_configurations_share_draws_and_billed_span() -> None:
    a = config(render("queue-pending", {"maxNodes": 10}), ready_time=timedelta(minutes=3),
               ready_time_max=timedelta(minutes=15), sample_delay_max=timedelta(seconds=90))
    b = replace(a, formula=parse(render("scale-to-zero", {"maxNodes": 10, "idleTimeout": "PT30M"})))
    results = simulate_runs(TRACE, [a, b], Spread(runs=3, seed=2))
    for ra, rb in zip(*results, strict=True):
        assert ra.summary.simulated == rb.summary.simulated  # the same billed span
        assert ra.evaluations[0][0] == rb.evaluations[0][0]  # the same evaluation phase
    single = same_span(TRACE, [a, b])
    assert single[0].summary.simulated == single[1].summary.simulated


def test_bands_are_p10_p50_p90_of_each_figure() -> None:
    results = simulate_runs(TRACE, [config(render("queue-pending", {"maxNodes": 10}), ready_time_max=timedelta(
        minutes=15))], Spread(runs=11, seed=3))[0]
    b = bands(results)
    costs = sorted(r.summary.node_hours_dedicated for r in results)
    assert b["node_hours_dedicated"] == pytest.approx((costs[1], costs[5], costs[9]))
    assert b["node_hours.dedicated.busy"][1] == pytest.approx(sorted(
        r.summary.node_hours["dedicated"]["busy"] for r in results)[5])
    low, mid, high = b["wait_p90"]
    assert low <= mid <= high
