"""The docs' example formulas (reference §B9) and the results strings Batch documented for them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bigcompute.autoscale import MetricHistory, PoolState, check, evaluate, parse
from bigcompute.autoscale.examples import (
    B9_1,
    B9_2,
    B9_4_PYTHON,
    B9_5,
    B9_6,
    B9_7,
    B9_7_CAPPED,
    B9_8,
    B9_9,
    B9_11,
    DO_AZURE_PARALLEL_QUEUE,
)

DOC_NOW = datetime(2016, 10, 13, 19, 18, 47, 805000, tzinfo=UTC)  # Thursday, 19:18 UTC
MONDAY_10 = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)
SATURDAY_10 = datetime(2025, 1, 11, 10, 0, tzinfo=UTC)


def results(formula: str, hist: MetricHistory | None = None, pool: PoolState | None = None,
            now: datetime = DOC_NOW) -> str:
    result = evaluate(formula, hist or MetricHistory(), pool or PoolState(), now)
    assert result.error is None, result.error
    return result.results


# Real service outputs (reference §B8), reproduced exactly.
def test_real_2025_results_of_capped_task_formula(make_history: Any) -> None:
    # 29 of the 30 samples of the last 15 minutes have arrived: $samples=96.6667.
    hist = make_history(DOC_NOW, missing_last=1, span=timedelta(minutes=15, seconds=30), ActiveTasks=0)
    assert results(B9_7_CAPPED, hist, PoolState(current_dedicated=1)) == (
        "$TargetDedicatedNodes=1;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion;"
        "$samples=96.6667;$targetVMs=0.5;$tasks=0;cappedPoolSize=3")


def test_real_2018_results_of_doazureparallel_queue_formula(make_history: Any) -> None:
    pool = PoolState(current_dedicated=2, current_low_priority=5, target_dedicated=1, target_low_priority=5)
    assert results(DO_AZURE_PARALLEL_QUEUE, make_history(DOC_NOW, ActiveTasks=0), pool) == (
        "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=5;$NodeDeallocationOption=taskcompletion;"
        "$maxTasksPerNode=4;$round=3;$samples=100;$targetVMs=1;$tasks=0")


def test_spec_example_echoes_the_alias() -> None:
    assert results("$TargetDedicated=1") == "$TargetDedicated=1;$NodeDeallocationOption=requeue"


def test_powershell_example_b9_11() -> None:
    # Test-AzBatchAutoScale on a pool without CPU samples yet: the percentage is 0, below 0.7.
    assert results(B9_11, pool=PoolState(current_dedicated=3)) == \
        "$TargetDedicated=5;$NodeDeallocationOption=requeue;totalNodes=5"


def test_captured_evaluate_example() -> None:
    assert results("$TargetDedicatedNodes=4;") == \
        "$TargetDedicatedNodes=4;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue"


def test_as20_time_based_results_user_variables() -> None:
    # The docs show `$TargetDedicatedNodes=10;$NodeDeallocationOption=requeue;$curTime=...` for the Python
    # snippet, which assigns the alias; the user variables must match exactly.
    out = results(B9_4_PYTHON)
    assert out == ("$TargetDedicated=10;$NodeDeallocationOption=requeue;$curTime=2016-10-13T19:18:47.805Z;"
                   "$isWeekday=1;$isWorkingWeekdayHour=0;$workHours=0")


@pytest.mark.parametrize(("now", "target"), [(DOC_NOW, 10), (MONDAY_10, 20), (SATURDAY_10, 10),
                                             (datetime(2025, 1, 10, 17, 59, tzinfo=UTC), 20),
                                             (datetime(2025, 1, 10, 18, 0, tzinfo=UTC), 10)])
def test_b9_6_time_based(now: datetime, target: int) -> None:
    result = evaluate(B9_6, MetricHistory(), PoolState(), now)
    assert (result.target_dedicated, result.node_deallocation_option) == (target, "taskcompletion")


def test_b9_6_mdt_variant_shifts_the_clock() -> None:
    mdt = B9_6.replace("$curTime = time();", "$curTime = time() + (-6 * TimeInterval_Hour);")
    # 16:00 UTC on a Monday is 10:00 MDT; 02:00 UTC Tuesday is Monday 20:00 MDT.
    assert evaluate(mdt, MetricHistory(), PoolState(), datetime(2025, 1, 6, 16, tzinfo=UTC)).target_dedicated == 20
    assert evaluate(mdt, MetricHistory(), PoolState(), datetime(2025, 1, 7, 2, tzinfo=UTC)).target_dedicated == 10


@pytest.mark.parametrize(("now", "target"), [(MONDAY_10, 5), (SATURDAY_10, 1)])
def test_b9_4_monday_formula(now: datetime, target: int) -> None:
    assert evaluate("$TargetDedicatedNodes = (time().weekday == 1 ? 5:1);", MetricHistory(), PoolState(),
                    now).target_dedicated == target


@pytest.mark.parametrize(("series", "target", "shown"), [
    ({}, 1, "pendingTaskSamplePercent=0;pendingTaskSamples=1"),  # too few samples: start at 1
    ({"PendingTasks": 12}, 12, "pendingTaskSamplePercent=100;pendingTaskSamples=12"),
    ({"PendingTasks": 40}, 25, "pendingTaskSamplePercent=100;pendingTaskSamples=40"),
])
def test_b9_1_pending_tasks(make_history: Any, series: dict[str, float], target: int, shown: str) -> None:
    assert results(B9_1, make_history(DOC_NOW, **series)) == (
        f"$TargetDedicatedNodes={target};$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion;"
        f"maxNumberofVMs=25;{shown};startingNumberOfVMs=1")


def test_b9_2_preempted_nodes(make_history: Any) -> None:
    assert results(B9_2, make_history(DOC_NOW, PreemptedNodeCount=3)) == (
        "$TargetDedicatedNodes=3;$TargetLowPriorityNodes=22;$NodeDeallocationOption=taskcompletion;maxNumberofVMs=25")


def test_b9_3_window_between_two_intervals_prints_a_vector(make_history: Any) -> None:
    # From 6 minutes ago to 1 minute ago: 10 samples, printed like the docs' `$runningTasksSample=[1,...]`.
    out = results("$runningTasksSample = $RunningTasks.GetSample(1 * TimeInterval_Minute, 6 * TimeInterval_Minute);",
                  make_history(DOC_NOW, RunningTasks=1))
    assert out.endswith(";$runningTasksSample=[1,1,1,1,1,1,1,1,1,1]")


def test_b9_3_percent_form_fails_with_insufficient_data(make_history: Any) -> None:
    formula = "$runningTasksSample = $RunningTasks.GetSample(60 * TimeInterval_Second, 120 * TimeInterval_Second, 75);"
    assert evaluate(formula, make_history(DOC_NOW, RunningTasks=1), PoolState(), DOC_NOW).ok
    sparse = make_history(DOC_NOW, RunningTasks=[1, 0, 1, 0], period=60)  # one sample a minute: 50%
    error = evaluate(formula, sparse, PoolState(), DOC_NOW).error
    assert error is not None and error.code == "InsufficientSampleData"
    assert error.values == (("Message", "Line 1, Col 37: Insufficient data from data set: $RunningTasks wanted "
                                        "75%, received 50%"),)


@pytest.mark.parametrize(("missing", "count", "percent_95_ok", "percent_80_ok"), [(0, 20, True, True),
                                                                                 (2, 18, False, True)])
def test_b6_ten_minutes_of_cpu(make_history: Any, missing: int, count: int, percent_95_ok: bool, percent_80_ok: bool) -> None:
    # "returns 20 samples if the history is complete, 18 if the last minute is missing";
    # with 18 of 20, samplePercent 95 fails and 80 succeeds.
    hist = make_history(DOC_NOW, missing_last=missing, CPUPercent=50)
    assert results("n = len($CPUPercent.GetSample(TimeInterval_Minute * 10));", hist).endswith(f"n={count}")
    for percent, ok in ((95, percent_95_ok), (80, percent_80_ok)):
        formula = f"v = $CPUPercent.GetSample(TimeInterval_Minute * 10, {percent});"
        assert evaluate(formula, hist, PoolState(), DOC_NOW).ok is ok


def test_b9_5_verbatim_has_the_documented_missing_semicolon() -> None:
    [error] = check(B9_5)
    assert (error.line, error.column) == (7, 55)
    assert error.message == "expected ';' after this statement (the next one starts on line 8)"


@pytest.mark.parametrize(("cpu_10min", "cpu_hour", "target"), [(0.8, 0.8, 11), (0.5, 0.1, 9), (0.5, 0.5, 10)])
def test_b9_5_with_the_semicolon(make_history: Any, cpu_10min: float, cpu_hour: float, target: int) -> None:
    fixed = B9_5.replace("$totalDedicatedNodes)\n", "$totalDedicatedNodes);\n")
    hist = make_history(DOC_NOW, CPUPercent=[cpu_hour] * 100 + [cpu_10min] * 20)
    result = evaluate(fixed, hist, PoolState(current_dedicated=10), DOC_NOW)
    assert (result.target_dedicated, result.node_deallocation_option) == (target, "taskcompletion")


@pytest.mark.parametrize(("pending", "current_target", "target", "shown"), [
    (12, 4, 12, "$samples=100;$targetVMs=12;$tasks=12"),
    (30, 4, 20, "$samples=100;$targetVMs=30;$tasks=30"),
    (0, 5, 2, "$samples=100;$targetVMs=2.5;$tasks=0"),  # half of the current target, truncated
])
def test_b9_7_task_based(make_history: Any, pending: int, current_target: int, target: int, shown: str) -> None:
    out = results(B9_7, make_history(DOC_NOW, PendingTasks=pending), PoolState(current_dedicated=current_target))
    assert out == (f"$TargetDedicatedNodes={target};$TargetLowPriorityNodes=0;"
                   f"$NodeDeallocationOption=taskcompletion;{shown}")


def test_b9_7_new_pool_uses_the_last_sample(make_history: Any) -> None:
    hist = make_history(DOC_NOW, PendingTasks=[7], span=timedelta(seconds=30))
    assert evaluate(B9_7, hist, PoolState(), DOC_NOW).target_dedicated == 7


@pytest.mark.parametrize(("active", "target"), [(30, 3), (5, 2), (4, 1), (0, 0)])
def test_b9_8_parallel_tasks(make_history: Any, active: int, target: int) -> None:
    # extraVMs = (tasks - 4 * T + 3) / 4, so T + extraVMs = ceil(tasks / 4), capped at 3.
    result = evaluate(B9_8, make_history(DOC_NOW, ActiveTasks=active), PoolState(current_dedicated=2), DOC_NOW)
    assert result.target_dedicated == target


@pytest.mark.parametrize(("now", "running", "target"), [
    (datetime(2025, 1, 1, 0, 5, tzinfo=UTC), 3, 4),  # still starting up: the initial size
    (datetime(2025, 1, 1, 3, 0, tzinfo=UTC), 3, 4),  # busy: keep the target
    (datetime(2025, 1, 1, 3, 0, tzinfo=UTC), 0, 0),  # idle for an hour: release everything
])
def test_b9_9_initial_pool_size(make_history: Any, now: datetime, running: int, target: int) -> None:
    hist = make_history(now, RunningTasks=running, ActiveTasks=0)
    assert evaluate(B9_9, hist, PoolState(), now).target_dedicated == target


def test_b9_9_without_an_hour_of_samples_fails_the_evaluation(make_history: Any) -> None:
    now = datetime(2025, 1, 1, 3, 0, tzinfo=UTC)
    hist = make_history(now, RunningTasks=1, ActiveTasks=0, span=timedelta(minutes=20))
    result = evaluate(B9_9, hist, PoolState(current_dedicated=2), now)
    assert result.error is not None and result.error.code == "InsufficientSampleData"
    assert result.target_dedicated == 2  # Batch leaves the pool alone


@pytest.mark.parametrize(("formula", "target"), [("$TargetDedicatedNodes = 0", 0),
                                                 ("$TargetDedicatedNodes = $CurrentDedicatedNodes;", 6)])
def test_b9_10_harmless_formulas(formula: str, target: int) -> None:
    assert evaluate(formula, MetricHistory(), PoolState(current_dedicated=6), DOC_NOW).target_dedicated == target


@pytest.mark.parametrize("formula", [B9_1, B9_2, B9_4_PYTHON, B9_6, B9_7, B9_8, B9_9, B9_11, B9_7_CAPPED,
                                     DO_AZURE_PARALLEL_QUEUE,
                                     "$myNewVariable = max($CurrentDedicatedNodes, 3);",
                                     "$CPUPercent.GetSample(TimeInterval_Minute * 5)"])
def test_every_doc_example_parses(formula: str) -> None:
    assert parse(formula).statements


def test_shipyard_insufficient_data_error_shape() -> None:
    # batch-shipyard#138: "Line 9, Col 43: Insufficient data from data set: $PendingTasks wanted 70%, received 0%"
    formula = "x = 1;\nPendingTaskAvg = avg($PendingTasks.GetSample(TimeInterval_Minute * 10, 70));"
    error = evaluate(formula, MetricHistory(), PoolState(), DOC_NOW).error
    assert error is not None
    assert error.to_dict() == {
        "code": "InsufficientSampleData",
        "message": "Autoscale evaluation failed due to insufficient sample data",
        "values": [{"name": "Message", "value": "Line 2, Col 36: Insufficient data from data set: $PendingTasks "
                                                "wanted 70%, received 0%"}]}


@pytest.mark.parametrize(("value", "target"), [("2.9", 2), ("0.5", 0), ("-3", 0), ("7", 7)])
def test_targets_are_truncated(value: str, target: int) -> None:
    # azure-docs#95350 ("0.5 ... rounded down to 0"), Azure/Batch#151 ("2.9, truncated to 2").
    result = evaluate(f"$TargetDedicatedNodes = {value.replace('-', '0 - ')};", MetricHistory(), PoolState(), DOC_NOW)
    assert result.target_dedicated == target
    assert result.results.startswith(f"$TargetDedicatedNodes={target};")
