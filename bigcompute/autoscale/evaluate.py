"""evaluate(): run a formula once against a metric history and a pool state, as Batch does.

Results follow AutoScaleRun.results (reference §B8): the three service variables first, then every
user variable in ordinal order. Decisions where the sources are silent:
- Targets are truncated toward zero; a negative target counts as 0; a NaN or infinite target fails the
  evaluation (AutoScalingFormulaEvaluationError) and the pool keeps its size.
- A formula that writes only the old alias `$TargetDedicated` and never mentions a low-priority target
  gets the old results shape (`$TargetDedicated=5;$NodeDeallocationOption=requeue;...`), as in both
  documented outputs of such formulas (§B8 SPEC example, §B9-11).
- rand() is seeded (by `seed`, else by `now`), so an evaluation is a pure function of its inputs.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime

from bigcompute.autoscale import catalog as cat
from bigcompute.autoscale.errors import EVALUATION_ERROR, AutoScaleRunError, EvaluationFailure, FormulaError
from bigcompute.autoscale.formula import Formula, parse
from bigcompute.autoscale.history import MetricHistory, PoolState
from bigcompute.autoscale.runtime import Runtime, Stop
from bigcompute.autoscale.values import T, format_double, format_value, to_seconds


@dataclass(frozen=True)
class EvaluationResult:
    results: str
    target_dedicated: int
    target_low_priority: int
    node_deallocation_option: str
    error: AutoScaleRunError | None = None
    timestamp: datetime | None = None
    variables: dict[str, object] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, object]:
        """Batch's AutoScaleRun JSON."""
        out: dict[str, object] = {"results": self.results}
        if self.timestamp is not None:
            out["timestamp"] = format_value(to_seconds(self.timestamp), T.TIMESTAMP)
        if self.error is not None:
            out["error"] = self.error.to_dict()
        return out


def evaluate(formula: str | Formula, history: MetricHistory, pool: PoolState, now: datetime, *,
             seed: int | None = None, source: str = "formula") -> EvaluationResult:
    """One evaluation. Never raises for a bad formula or missing data: that is `result.error`."""
    if isinstance(formula, str):
        try:
            formula = parse(formula, source)
        except FormulaError as e:
            return _unchanged(pool, now, AutoScaleRunError(e.code, "Autoscale formula is invalid", (
                ("Message", f"Line {e.line}, Col {e.column}: {e.message}"),)))
    clock = to_seconds(now)
    rt = Runtime(clock, history, pool, random.Random(seed if seed is not None else clock))
    error: AutoScaleRunError | None = None
    try:
        for statement in formula.program.statements:
            statement(rt)
    except Stop:
        pass
    except EvaluationFailure as failure:
        error = failure.to_error()
    return _result(formula, rt, pool, now, error)


def _result(formula: Formula, rt: Runtime, pool: PoolState, now: datetime,
            error: AutoScaleRunError | None) -> EvaluationResult:
    v = rt.vars
    dedicated = v.get(cat.TARGET_DEDICATED, v.get("$TargetDedicated", pool.target(False)))
    low = v.get(cat.TARGET_LOW_PRIORITY, v.get("$TargetLowPriority", pool.target(True)))
    option = str(v.get(cat.DEALLOCATION, "requeue"))
    if error is None:
        for full, alias, target in ((cat.TARGET_DEDICATED, "$TargetDedicated", dedicated),
                                    (cat.TARGET_LOW_PRIORITY, "$TargetLowPriority", low)):
            if not math.isfinite(target):  # type: ignore[arg-type]
                line, column = rt.written_at.get(full, rt.written_at.get(alias, (1, 1)))
                error = AutoScaleRunError(EVALUATION_ERROR, "Autoscale evaluation failed", (
                    ("Message", f"Line {line}, Col {column}: {full} evaluated to {format_double(target)}, "  # type: ignore[arg-type]
                                "which is not a node count"),))
    if error is not None:  # Batch leaves the pool as it was
        dedicated, low = pool.target(False), pool.target(True)
    ded_n, low_n = _nodes(dedicated), _nodes(low)  # type: ignore[arg-type]
    pairs = _service_pairs(formula, ded_n, low_n, option)
    users = sorted(n for n in rt.types if rt.types[n] is not T.ERROR)
    pairs += [(name, format_value(v[name], rt.types[name])) for name in users]
    return EvaluationResult(";".join(f"{k}={val}" for k, val in pairs), ded_n, low_n, option, error, now,
                            {name: v[name] for name in users})


def _nodes(x: float) -> int:
    return max(0, int(x)) if math.isfinite(x) else 0


def _service_pairs(formula: Formula, dedicated: int, low: int, option: str) -> list[tuple[str, str]]:
    said = formula.program.mentions
    legacy = "$TargetDedicated" in said and not said & {
        cat.TARGET_DEDICATED, cat.TARGET_LOW_PRIORITY, "$TargetLowPriority"}
    if legacy:
        return [("$TargetDedicated", str(dedicated)), (cat.DEALLOCATION, option)]
    low_name = "$TargetLowPriority" if "$TargetLowPriority" in said and cat.TARGET_LOW_PRIORITY not in said \
        else cat.TARGET_LOW_PRIORITY
    return [(cat.TARGET_DEDICATED, str(dedicated)), (low_name, str(low)), (cat.DEALLOCATION, option)]


def _unchanged(pool: PoolState, now: datetime, error: AutoScaleRunError) -> EvaluationResult:
    dedicated, low = _nodes(pool.target(False)), _nodes(pool.target(True))
    results = f"{cat.TARGET_DEDICATED}={dedicated};{cat.TARGET_LOW_PRIORITY}={low};{cat.DEALLOCATION}=requeue"
    return EvaluationResult(results, dedicated, low, "requeue", error, now)
