"""Properties: any well-typed formula evaluates to a result or a Batch error, never a Python exception."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bigcompute.autoscale import MetricHistory, PoolState, check, evaluate

NOW = datetime(2025, 1, 8, 12, tzinfo=UTC)
NUMBERS = st.sampled_from(["0", "1", "2.5", "0.001", "7", "9" * 40, "9" * 310])
METRICS = st.sampled_from(["$CPUPercent", "$PendingTasks", "$ActiveTasks", "$PreemptedNodeCount"])


def _typed(depth: int) -> dict[str, st.SearchStrategy[str]]:
    """Expression text of each type, `depth` levels of operators deep."""
    if depth == 0:
        return {
            "D": st.one_of(NUMBERS, st.sampled_from(["$CurrentDedicatedNodes", "$TaskSlotsPerNode", "rand()",
                                                     "time().hour", "$TargetDedicatedNodes"])),
            "V": st.builds(lambda m, n: f"{m}.GetSample({n})", METRICS, NUMBERS),
            "TS": st.sampled_from(["time()", 'time("2025-01-01T00:00:00Z")', "$CPUPercent.HistoryBeginTime()"]),
            "TI": st.sampled_from(["TimeInterval_Minute", "TimeInterval_Year", "TimeInterval_Zero",
                                   "$PendingTasks.GetSamplePeriod()"]),
        }
    sub = _typed(depth - 1)
    d, v, ts, ti = sub["D"], sub["V"], sub["TS"], sub["TI"]
    ops = st.sampled_from(["+", "-", "*", "/"])
    cmp = st.sampled_from(["<", "<=", "==", "!=", ">=", ">", "&&", "||"])
    agg = st.sampled_from(["avg", "len", "max", "min", "norm", "range", "std", "sum"])
    return {
        "D": st.one_of(
            d, st.builds(lambda a, o, b: f"({a} {o} {b})", d, st.one_of(ops, cmp), d),
            st.builds(lambda u, a: f"{u}{a}", st.sampled_from(["-", "!"]), d),
            st.builds(lambda c, a, b: f"({c} ? {a} : {b})", d, d, d),
            st.builds(lambda f, a, b: f"{f}({a}, {b})", agg, v, d),
            st.builds(lambda f, a, b: f"{f}({a}, {b})", st.sampled_from(["val", "percentile"]), v, d),
            st.builds(lambda a, o, b: f"({a} {o} {b})", ts, st.sampled_from(["<", "=="]), ts),
            st.builds(lambda a, m: f"{a}.{m}", ts, st.sampled_from(["year", "weekday", "second"])),
            st.builds(lambda m, w: f"{m}.GetSamplePercent({w})", METRICS, ti),
            st.builds(lambda f, a: f"{f}({a})", st.sampled_from(["lg", "ln", "log"]), d),
        ),
        "V": st.one_of(
            v, st.builds(lambda a, o, b: f"({a} {o} {b})", v, ops, st.one_of(d, v)),
            st.builds(lambda m, w, p: f"{m}.GetSample({w}, {p})", METRICS, ti, d),
            st.builds(lambda m, a, b: f"{m}.GetSample({a}, {b})", METRICS, st.one_of(ts, ti), st.one_of(ts, ti)),
            st.builds(lambda a: f"lg({a}, 1)", v),
        ),
        "TS": st.one_of(ts, st.builds(lambda a, b: f"({a} + {b})", ts, ti), st.builds(lambda a, b: f"({b} + {a})", ts, ti)),
        "TI": st.one_of(ti, st.builds(lambda a, b: f"({a} * {b})", ti, d), st.builds(lambda a, b: f"({a} / {b})", ti, d),
                        st.builds(lambda a, b: f"({a} - {b})", ts, ts), st.builds(lambda a: f"-{a}", ti)),
    }


EXPR = _typed(3)
SAMPLES = st.lists(st.floats(allow_nan=False, allow_infinity=True, width=32), max_size=30)


@settings(max_examples=150, deadline=None)
@given(stmts=st.lists(st.tuples(st.sampled_from(["D", "V", "TS", "TI"]), st.data()), min_size=1, max_size=4),
       target=EXPR["D"], cpu=SAMPLES, pending=SAMPLES)
def test_well_typed_formulas_never_raise(stmts: list[tuple[str, Any]], target: str, cpu: list[float],
                                         pending: list[float]) -> None:
    lines = [f"v{i} = {data.draw(EXPR[kind])};" for i, (kind, data) in enumerate(stmts)]
    text = "\n".join([*lines, f"$TargetDedicatedNodes = {target};"])
    assert check(text) == [], text
    series = {k: v for k, v in (("$CPUPercent", cpu), ("$PendingTasks", pending)) if v}
    result = evaluate(text, MetricHistory.constant(series, NOW), PoolState(current_dedicated=2), NOW)
    if result.error is None:
        assert result.target_dedicated >= 0 and result.results.startswith("$TargetDedicatedNodes=")
    else:
        assert result.error.code in ("AutoScalingFormulaEvaluationError", "InsufficientSampleData")
        assert result.error.values[0][1].startswith("Line ")
        assert result.target_dedicated == 2
