"""Evaluation semantics: operators, functions, sample methods, the results string and Batch-style errors."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bigcompute.autoscale import MetricHistory, PoolState, evaluate, parse
from bigcompute.autoscale.calls import TIME_FORMATS
from bigcompute.autoscale.values import format_double, format_interval

NOW = datetime(2025, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)  # a Tuesday


def run(text: str, hist: MetricHistory | None = None, pool: PoolState | None = None, **kw: Any) -> dict[str, str]:
    result = evaluate(text, hist or MetricHistory(), pool or PoolState(), NOW, **kw)
    assert result.error is None, result.error
    return dict(pair.split("=", 1) for pair in result.results.split(";"))


@pytest.mark.parametrize(("expr", "shown"), [
    ("7 / 2", "3.5"), ("1 / 3", "0.333333"), ("2 - 5 * 2", "-8"), ("-0", "0"), ("1 / 0", "Infinity"),
    ("-1 / 0", "-Infinity"), ("0 / 0", "NaN"), ("1234567.5", "1.23457E+06"), ("1000000", "1000000"),
    ("3 > 2", "1"), ("3 < 2", "0"), ("2 == 2", "1"), ("2 != 2", "0"), ("2 >= 2", "1"), ("2 <= 1", "0"),
    ("!0", "1"), ("!5", "0"), ("1 && 0", "0"), ("1 || 0", "1"), ("0 || 0", "0"), ("2 && 3", "1"),
    ('"abc" < "abd"', "1"), ('"b" > "B"', "1"), ('"x" == "x"', "1"),
    ("0 ? 1 : 2", "2"), ("0.5 ? 1 : 2", "1"),
    ("avg(1, 2, 3)", "2"), ("len(1, 2, 3)", "3"), ("max(1, 5, 3)", "5"), ("min(4, 2, 8)", "2"),
    ("norm(3, 4)", "5"), ("range(4, 2, 8)", "6"), ("std(2, 4, 4, 4, 5, 5, 7, 9)", "2.13809"), ("std(3)", "0"),
    ("sum(1, 2, 3.5)", "6.5"), ("sum()", "0"), ("len()", "0"), ("lg(8)", "3"), ("ln(1)", "0"), ("log(1000)", "3"),
    ("log(0)", "-Infinity"), ("log(0 - 1)", "NaN"),
    ("time().year", "2025"), ("time().month", "3"), ("time().day", "4"), ("time().weekday", "2"),
    ("time().hour", "5"), ("time().minute", "6"), ("time().second", "7"),
    ('time("2025-01-05").weekday', "0"), ('time("2025-01-11T10:00:00Z").weekday', "6"),
    ('time("2025-01-01T00:30:00+02:00").hour', "22"), ('time("Wed, 01 Jan 2025 13:00:00 GMT").hour', "13"),
    ('time("2025").month', "1"), ('time("2025-06").month', "6"),
])
def test_double_results(expr: str, shown: str) -> None:
    assert run(f"x = {expr}")["x"] == shown


@pytest.mark.parametrize(("expr", "shown"), [
    ("TimeInterval_Minute * 90", "01:30:00"), ("TimeInterval_Day * 1.5", "1.12:00:00"),
    ("TimeInterval_Second * 0.25", "00:00:00.2500000"), ("-TimeInterval_Hour", "-01:00:00"),
    ("TimeInterval_Hour - TimeInterval_Minute", "00:59:00"), ("TimeInterval_Week / 7", "1.00:00:00"),
    ("TimeInterval_Zero", "00:00:00"), ("TimeInterval_100ns * 3", "00:00:00.0000003"),
    ("TimeInterval_Millisecond", "00:00:00.0010000"), ("TimeInterval_Microsecond * 10", "00:00:00.0000100"),
    ("TimeInterval_Year / 365", "1.00:00:00"),
    ("time() - time(\"2025-03-04T00:00:00Z\")", "05:06:07.8900000"),
])
def test_timeinterval_results(expr: str, shown: str) -> None:
    assert run(f"x = {expr}")["x"] == shown


def test_timestamp_results_and_comparisons() -> None:
    out = run("a = time(); b = time() + TimeInterval_Hour; c = TimeInterval_Day + time(\"2025-01-01\"); "
              "d = b > a; e = TimeInterval_Hour > TimeInterval_Minute")
    assert (out["a"], out["b"], out["c"]) == ("2025-03-04T05:06:07.890Z", "2025-03-04T06:06:07.890Z",
                                              "2025-01-02T00:00:00.000Z")
    assert (out["d"], out["e"]) == ("1", "1")


def test_vectors_arithmetic_and_functions(make_history: Any) -> None:
    hist = make_history(NOW, CPUPercent=[10, 20, 30, 40])
    out = run("v = $CPUPercent.GetSample(4); w = v + 1; x = v * v; y = v / 10; z = v - v; n = len(v, 5, v); "
              "a = avg(v, 50); p = percentile(v, 50); p0 = percentile(v, 0); p100 = percentile(v, 100); "
              "i = val(v, 3); last = val($CPUPercent.GetSample(1), 0); l = lg(v / 10); s = ln(v, 1)", hist)
    assert (out["v"], out["w"], out["x"]) == ("[10,20,30,40]", "[11,21,31,41]", "[100,400,900,1600]")
    assert (out["y"], out["z"], out["n"], out["a"]) == ("[1,2,3,4]", "[0,0,0,0]", "9", "30")
    assert (out["p"], out["p0"], out["p100"], out["i"], out["last"]) == ("20", "10", "40", "40", "40")
    assert out["l"] == "[0,1,1.58496,2]"
    assert out["s"].startswith("[2.30259,") and out["s"].endswith(",0]")


@pytest.mark.parametrize(("text", "detail"), [
    ("v = $CPUPercent.GetSample(2); w = $CPUPercent.GetSample(3); x = v + w",
     "Line 1, Col 67: doubleVec operands have different lengths (2 and 3)"),
    ("x = val($CPUPercent.GetSample(3), 3)", "Line 1, Col 5: val() index 3 is outside the vector of 3 element(s)"),
    ("x = percentile($CPUPercent.GetSample(3), 101)",
     "Line 1, Col 5: percentile() needs a percentage between 0 and 100, got 101"),
    ("x = avg($DiskBytes.GetSample(TimeInterval_Minute * 5))",
     "Line 1, Col 5: avg() of an empty vector (are there samples in the window?)"),
    ('s = "soon"; x = time(s)', f"Line 1, Col 17: time() cannot read \"soon\"; use {TIME_FORMATS}"),
])
def test_runtime_failures_are_located_batch_errors(make_history: Any, text: str, detail: str) -> None:
    pool = PoolState(current_dedicated=3)
    result = evaluate(text, make_history(NOW, CPUPercent=[1, 2, 3]), pool, NOW)
    assert result.error is not None
    assert (result.error.code, result.error.message) == ("AutoScalingFormulaEvaluationError",
                                                         "Autoscale evaluation failed")
    assert result.error.values == (("Message", detail),)
    assert (result.target_dedicated, result.target_low_priority) == (3, 0)


def test_sample_methods(make_history: Any) -> None:
    hist = make_history(NOW, PendingTasks=[1, 2, 3, 4, 5, 6])  # 30 s apart, the last one at NOW
    out = run("n = $PendingTasks.Count(); begin = $PendingTasks.HistoryBeginTime(); "
              "period = $PendingTasks.GetSamplePeriod(); last2 = $PendingTasks.GetSample(2); "
              "many = $PendingTasks.GetSample(100); none = $PendingTasks.GetSample(0); "
              "win = $PendingTasks.GetSample(TimeInterval_Second * 60); "
              "pct = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 5); "
              "old = $PendingTasks.GetSample(TimeInterval_Second * 90, TimeInterval_Second * 31); "
              "abs = $PendingTasks.GetSample(time() + TimeInterval_Second * -60, time(), 100); "
              "other = $ActiveTasks.GetSamplePercent(TimeInterval_Minute)", hist)
    assert (out["n"], out["period"], out["last2"], out["many"], out["none"]) == (
        "6", "00:00:30", "[5,6]", "[1,2,3,4,5,6]", "[]")
    assert out["begin"] == "2025-03-04T05:03:37.890Z"
    assert (out["win"], out["pct"], out["old"], out["abs"], out["other"]) == ("[5,6]", "60", "[4]", "[5,6]", "0")


def test_samples_after_now_do_not_exist_yet(make_history: Any) -> None:
    hist = make_history(NOW + timedelta(minutes=1), PendingTasks=[1, 2, 3, 4])  # the last two are "future"
    assert run("n = $PendingTasks.Count(); l = $PendingTasks.GetSample(1)", hist) == {
        "$TargetDedicatedNodes": "0", "$TargetLowPriorityNodes": "0", "$NodeDeallocationOption": "requeue",
        "l": "[2]", "n": "2"}


def test_history_begin_time_without_samples_fails() -> None:
    error = evaluate("b = $RunningTasks.HistoryBeginTime()", MetricHistory(), PoolState(), NOW).error
    assert error is not None and error.code == "InsufficientSampleData"
    assert error.values == (("Message", "Line 1, Col 19: $RunningTasks has no samples yet"),)


def test_results_order_service_first_then_user_variables_ordinally() -> None:
    result = evaluate("zeta = 1; Alpha = 2; $b = 3; $A = 4; a = 5; $NodeDeallocationOption = retaineddata; "
                      "$TargetLowPriorityNodes = 2; $TargetDedicatedNodes = 1", MetricHistory(), PoolState(), NOW)
    assert result.results == ("$TargetDedicatedNodes=1;$TargetLowPriorityNodes=2;$NodeDeallocationOption=retaineddata;"
                              "$A=4;$b=3;Alpha=2;a=5;zeta=1")
    assert result.variables == {"$A": 4.0, "$b": 3.0, "Alpha": 2.0, "a": 5.0, "zeta": 1.0}
    assert (result.target_dedicated, result.target_low_priority, result.node_deallocation_option) == (
        1, 2, "retaineddata")


def test_targets_read_as_the_pool_target_until_assigned_and_aliases() -> None:
    pool = PoolState(current_dedicated=4, current_low_priority=1, target_dedicated=6)
    out = run("before = $TargetDedicatedNodes; alias = $TargetDedicated; low = $TargetLowPriority; "
              "$TargetDedicated = 9; viaFull = $TargetDedicatedNodes; opt = $NodeDeallocationOption", pool=pool)
    assert (out["before"], out["alias"], out["low"], out["viaFull"], out["opt"]) == ("6", "6", "1", "9", "requeue")
    # the alias was written but the full name is also mentioned: modern shape, the alias's value
    assert out["$TargetDedicatedNodes"] == "9"


def test_full_name_wins_over_the_alias() -> None:
    result = evaluate("$TargetDedicatedNodes = 3; $TargetDedicated = 7", MetricHistory(), PoolState(), NOW)
    assert result.target_dedicated == 3
    assert result.results.startswith("$TargetDedicatedNodes=3;$TargetLowPriorityNodes=0;")


def test_low_priority_alias_is_echoed() -> None:
    result = evaluate("$TargetLowPriority = 2", MetricHistory(), PoolState(), NOW)
    assert result.results == "$TargetDedicatedNodes=0;$TargetLowPriority=2;$NodeDeallocationOption=requeue"


def test_stop_ends_the_evaluation_keeping_earlier_assignments() -> None:
    out = run("$TargetDedicatedNodes = 2; a = 1; 1 ? stop() : stop(); b = 2; $TargetDedicatedNodes = 9")
    assert (out["$TargetDedicatedNodes"], out["a"]) == ("2", "1") and "b" not in out


def test_ternary_evaluates_only_the_chosen_branch() -> None:
    # The other branch would fail for lack of samples; the docs' examples rely on this.
    out = run("x = 1 ? 5 : avg($PendingTasks.GetSample(TimeInterval_Minute, 90))")
    assert out["x"] == "5"


def test_node_count_scalars_come_from_the_pool() -> None:
    pool = PoolState(current_dedicated=3, current_low_priority=4, preempted=1, task_slots_per_node=8)
    out = run("d = $CurrentDedicatedNodes; l = $CurrentLowPriorityNodes; p = $PreemptedNodeCount; "
              "u = $UsableNodeCount; s = $TaskSlotsPerNode; old = $CurrentDedicated + $CurrentLowPriority", pool=pool)
    assert (out["d"], out["l"], out["p"], out["u"], out["s"], out["old"]) == ("3", "4", "1", "6", "8", "7")


def test_rand_is_reproducible_per_seed() -> None:
    a = run("r = rand()", seed=1)["r"]
    assert a == run("r = rand()", seed=1)["r"] and a != run("r = rand()", seed=2)["r"]
    assert 0 <= float(a) < 1


@pytest.mark.parametrize("value", ["0 / 0", "1 / 0"])
def test_non_finite_target_fails_and_keeps_the_pool(value: str) -> None:
    result = evaluate(f"$TargetDedicatedNodes = {value}", MetricHistory(), PoolState(current_dedicated=2), NOW)
    assert result.error is not None and result.error.code == "AutoScalingFormulaEvaluationError"
    assert result.target_dedicated == 2


def test_invalid_text_gives_a_batch_syntax_error_not_an_exception() -> None:
    result = evaluate("$TargetDedicatedNodes = ", MetricHistory(), PoolState(current_dedicated=1), NOW)
    assert result.error is not None and result.error.to_dict() == {
        "code": "AutoScalingFormulaSyntaxError", "message": "Autoscale formula is invalid",
        "values": [{"name": "Message", "value": "Line 1, Col 24: unexpected end of formula; expected an expression"}]}
    assert result.target_dedicated == 1
    long = evaluate("a = 1;" * 2000, MetricHistory(), PoolState(), NOW)
    assert long.error is not None and long.error.code == "AutoScalingFormulaTooLong"


def test_to_dict_is_an_autoscale_run() -> None:
    result = evaluate("$TargetDedicatedNodes = 1", MetricHistory(), PoolState(), NOW)
    assert result.to_dict() == {"results": "$TargetDedicatedNodes=1;$TargetLowPriorityNodes=0;"
                                           "$NodeDeallocationOption=requeue", "timestamp": "2025-03-04T05:06:07.890Z"}


def test_a_formula_object_evaluates_repeatedly_without_state_leaking(make_history: Any) -> None:
    formula = parse("$TargetDedicatedNodes = max(0, $PendingTasks.GetSample(1)); seen = $TargetDedicatedNodes")
    for pending in (3, 1, 7):
        assert evaluate(formula, make_history(NOW, PendingTasks=pending), PoolState(), NOW).target_dedicated == pending
    assert formula.metrics == frozenset({"$PendingTasks"}) and formula.variables == ("seen",)


def test_history_inputs() -> None:
    rows = [{"time": NOW.timestamp() - 30, "$PendingTasks": 2, "ActiveTasks": 1},
            {"time": NOW, "$PendingTasks": 4, "ActiveTasks": 3}]
    hist = MetricHistory.from_samples(rows)
    assert hist.samples("$PendingTasks") == [(NOW.timestamp() - 30, 2.0), (NOW.timestamp(), 4.0)]
    assert run("a = $ActiveTasks.GetSample(2)", hist)["a"] == "[1,3]"
    hist.append("$CurrentDedicated", NOW - timedelta(minutes=5), 1)  # alias, out of order
    hist.append("$CurrentDedicatedNodes", NOW - timedelta(minutes=9), 2)
    assert [v for _, v in hist.samples("$CurrentDedicatedNodes")] == [2.0, 1.0]
    with pytest.raises(ValueError, match="not a read-only Batch metric"):
        hist.append("$TargetDedicatedNodes", NOW, 1)
    constant = MetricHistory.constant({"$CPUPercent": 50, "$PendingTasks": [1, 2]}, NOW, timedelta(minutes=10))
    assert len(constant.samples("$CPUPercent")) == 20 and constant.samples("$PendingTasks")[-1] == (NOW.timestamp(), 2.0)


@pytest.mark.parametrize(("x", "shown"), [(96.66666666, "96.6667"), (0.5, "0.5"), (100.0, "100"), (-0.0, "0"),
                                          (1e-7, "1E-07"), (math.inf, "Infinity")])
def test_number_format(x: float, shown: str) -> None:
    assert format_double(x) == shown


def test_interval_format() -> None:
    assert format_interval(-90061.5) == "-1.01:01:01.5000000"
