"""Static checks: every class of semantic error is located exactly, and check() reports all of them."""

from __future__ import annotations

import pytest

from bigcompute.autoscale import FormulaError, check, parse
from bigcompute.autoscale.calls import TIME_FORMATS

CHECK_ERRORS = [
    # unknown names
    ("a = b", 1, 5, "unknown variable 'b'"),
    ("total = 1;\nx = totl + 1", 2, 5, "unknown variable 'totl'; did you mean 'total'?"),
    ("x = y;\ny = 1", 1, 5, "variable 'y' is read before it is assigned"),
    ("x = $PendingTask.GetSample(1)", 1, 5, "unknown variable '$PendingTask'; did you mean '$PendingTasks'?"),
    ("a = foo(1)", 1, 5, "unknown function 'foo'"),
    ("a = Max(1, 2)", 1, 5, "unknown function 'Max'; did you mean 'max'?"),
    ("a = GetSample(1)", 1, 5, "GetSample() is a sample method; call it on a metric, e.g. $PendingTasks.GetSample(...)"),
    ("a = TimeInterval_Minutes", 1, 5, "unknown variable 'TimeInterval_Minutes'; did you mean 'TimeInterval_Minute'?"),
    ("a = $CPUPercent.GetSamples(3)", 1, 17, "unknown sample method 'GetSamples'; expected one of GetSample, "
     "GetSamplePeriod, GetSamplePercent, Count, HistoryBeginTime; did you mean 'GetSample'?"),
    ("a = time().hours", 1, 12, "timestamps have no member 'hours'; expected one of year, month, day, weekday, "
     "hour, minute, second; did you mean 'hour'?"),
    # read-only and constants
    ("$PendingTasks = 3", 1, 1, "cannot assign to $PendingTasks: it is a read-only service variable"),
    ("a = 1;\n  $CurrentDedicatedNodes = 2", 2, 3,
     "cannot assign to $CurrentDedicatedNodes: it is a read-only service variable"),
    ("$CurrentDedicated = 2", 1, 1, "cannot assign to $CurrentDedicated: it is a read-only service variable"),
    ("TimeInterval_Hour = 2", 1, 1, "cannot assign to the constant TimeInterval_Hour"),
    ("requeue = 1", 1, 1, "cannot assign to the constant requeue"),
    # letter case
    ("$targetDedicatedNodes = 1", 1, 1,
     "'$targetDedicatedNodes' differs from Batch's '$TargetDedicatedNodes' only in letter case; write "
     "'$TargetDedicatedNodes'"),
    ("x = $pendingTasks.GetSample(1)", 1, 5,
     "'$pendingTasks' differs from Batch's '$PendingTasks' only in letter case; write '$PendingTasks'"),
    # types
    ('x = "a" + 1', 1, 9, "'+' is not defined for string and double"),
    ("x = 2 * $CPUPercent.GetSample(3)", 1, 7, "'*' is not defined for double and doubleVec"),
    ("x = time() - TimeInterval_Hour", 1, 12, "'-' is not defined for timestamp and timeinterval"),
    ("x = TimeInterval_Hour * TimeInterval_Hour", 1, 23, "'*' is not defined for timeinterval and timeinterval"),
    ("x = $CPUPercent.GetSample(3) > 1", 1, 30, "'>' is not defined for doubleVec and double"),
    ('x = "a" && 1', 1, 9, "'&&' is not defined for string and double"),
    ("x = -$CPUPercent.GetSample(3)", 1, 5, "unary '-' is not defined for doubleVec"),
    ('x = !"a"', 1, 5, "unary '!' is not defined for string"),
    ("x = time() ? 1 : 2", 1, 5, "the condition before '?' must be a double, not a timestamp"),
    ("x = 1 ? 2 : time()", 1, 7, "the two branches of '?:' have different types: double and timestamp"),
    ("$TargetDedicatedNodes = $PendingTasks.GetSample(3)", 1, 25,
     "cannot assign a doubleVec to $TargetDedicatedNodes, which needs a double (reduce it with avg(), max(), "
     "min() or val())"),
    ("$TargetLowPriorityNodes = TimeInterval_Hour", 1, 27,
     "cannot assign a timeinterval to $TargetLowPriorityNodes, which needs a double"),
    ("$NodeDeallocationOption = 1", 1, 27,
     "$NodeDeallocationOption must be one of requeue, terminate, taskcompletion, retaineddata, not a double"),
    ('$NodeDeallocationOption = "requeue"', 1, 27,
     "$NodeDeallocationOption must be one of requeue, terminate, taskcompletion, retaineddata, not a string"),
    ("a = stop()", 1, 5, "stop() has no value to assign"),
    ("a = $PendingTasks + 1", 1, 5, "$PendingTasks is a sampled metric; read it through a sample method, "
     "e.g. $PendingTasks.GetSample(1) or $PendingTasks.GetSample(TimeInterval_Minute * 5)"),
    ("a = 1;\nb = a.GetSample(1)", 2, 7, "a double has no method 'GetSample'; sample methods belong to the "
     "read-only metrics such as $PendingTasks or $CPUPercent"),
    ("x = $CPUPercent.Count", 1, 17, "Count is a method; call it as $CPUPercent.Count(...)"),
    ("x = (1 + 2).hour", 1, 13, "a double has no member 'hour'; only timestamps have members (year, month, day, "
     "weekday, hour, minute, second)"),
    # signatures
    ("x = avg()", 1, 5, "avg() needs at least one value"),
    # a wrong argument is pointed at, not the call
    ('x = max(1, "2")', 1, 12, "max() takes doubles and doubleVecs, not (double, string): argument 2 is a string"),
    ("x = percentile(1, 50)", 1, 16, "percentile() takes (doubleVec v, double p), not (double, double)"),
    ("x = percentile($CPUPercent.GetSample(3), \"p\")", 1, 42,
     "percentile() takes (doubleVec v, double p), not (doubleVec, string)"),
    ("x = val($CPUPercent.GetSample(3))", 1, 5, "val() takes (doubleVec v, double i), not (doubleVec)"),
    ("x = rand(1)", 1, 5, "rand() takes no arguments"),
    ("x = time(1)", 1, 10, "time() takes an optional date string, not (double)"),
    ('x = time("yesterday")', 1, 10, f'time() cannot read "yesterday"; use {TIME_FORMATS}'),
    # nine fractional digits (Java's Instant.toString()): Batch fails the formula (nextflow-io/nextflow#3866)
    ('x = time("2023-04-14T10:00:49.123456789Z")', 1, 10,
     f'time() cannot read "2023-04-14T10:00:49.123456789Z"; use {TIME_FORMATS}'),
    ("x = ln()", 1, 5, "ln() takes a double or a doubleVec list, not ()"),
    ("x = $CPUPercent.GetSample()", 1, 17, "GetSample takes (double count), (start [, double samplePercent]) or "
     "(start, end [, double samplePercent]), where start and end are timestamps or timeintervals; got ()"),
    ("x = $CPUPercent.GetSample(TimeInterval_Hour, 1, 2)", 1, 17, "GetSample takes (double count), "
     "(start [, double samplePercent]) or (start, end [, double samplePercent]), where start and end are "
     "timestamps or timeintervals; got (timeinterval, double, double)"),
    ("x = $CPUPercent.GetSamplePercent(10)", 1, 17,
     "GetSamplePercent takes (start [, end]), timestamps or timeintervals; got (double)"),
    ("x = $CPUPercent.Count(1)", 1, 17, "Count() takes no arguments; got (double)"),
]


@pytest.mark.parametrize(("text", "line", "column", "message"), CHECK_ERRORS)
def test_semantic_errors_are_located(text: str, line: int, column: int, message: str) -> None:
    errors = check(text)
    assert [(e.line, e.column, e.message) for e in errors] == [(line, column, message)]
    with pytest.raises(FormulaError) as caught:
        parse(text)
    assert str(caught.value) == str(errors[0])


def test_check_reports_every_problem_in_text_order_without_cascades() -> None:
    text = 'a = "x" + 1;\nb = a * 2;\nc = nope;\n$PendingTasks = 4;\nd = max(1, 2)'
    assert [(e.line, e.column) for e in check(text)] == [(1, 9), (3, 5), (4, 1)]


@pytest.mark.parametrize("text", [
    "x = 2 * TimeInterval_Minute; y = TimeInterval_Minute * 2 / 4; z = x + y - y",
    "t = time() + TimeInterval_Day; u = TimeInterval_Day + time(); d = t - time(); b = d > TimeInterval_Zero",
    'b = "abc" < "abd"; c = time("2025-01-01T00:00:00Z") <= time()',
    "v = $CPUPercent.GetSample(10) + 1; w = v * v; l = lg(v); s = ln(2) + log(100); lv = log(100, 10) * 2",
    "x = $CurrentDedicatedNodes * 1.1 + $CurrentLowPriorityNodes + $TaskSlotsPerNode + $UsableNodeCount",
    "p = $PreemptedNodeCount + $PreemptedNodeCount.Count(); h = $CPUPercent.HistoryBeginTime().year",
    "period = $ActiveTasks.GetSamplePeriod() * 2; pct = $ActiveTasks.GetSamplePercent(time(), time())",
    "$NodeDeallocationOption = 1 ? retaineddata : terminate; keep = $NodeDeallocationOption",
    "$TargetLowPriority = 2; $TargetDedicated = $TargetLowPriority + rand()",
    "x = 1; x = time(); x = x.weekday",  # a variable takes the type of its latest assignment
    "max = 3; y = max(max, 4)",  # variables and functions live apart
    "$x = 1; x = 2",  # `x` and `$x` are different variables
])
def test_well_typed_formulas_pass(text: str) -> None:
    assert check(text) == []


def test_seven_fractional_digits_are_read_as_batch_reads_them() -> None:
    """100-ns precision (7 digits) is what Batch keeps; more is refused (see the nine-digit case above)."""
    assert check('x = time("2023-04-14T10:00:49.1234567Z")') == []
