"""The one place the emulator meets `bigcompute.autoscale`: turns its result into Batch's AutoScaleRun.

While that package is not importable, a fallback understands formulas made only of constant assignments
(`$TargetDedicatedNodes = 2;`), so fixed-target autoscale pools still work and anything else reports
an AutoScaleRun error instead of failing the request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bigcompute.emulator.core.formats import iso
from bigcompute.emulator.state.models import PoolDoc


@dataclass(frozen=True)
class Outcome:
    results: str
    target_dedicated: int
    target_low_priority: int
    node_deallocation_option: str | None
    error: dict[str, Any] | None

    def run(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {"timestamp": iso(now), "results": self.results}
        if self.error:
            out["error"] = self.error
        return out


def _pool_state(pool: PoolDoc) -> dict[str, Any]:
    return {
        "current_dedicated": pool.get("currentDedicatedNodes", 0),
        "current_low_priority": pool.get("currentLowPriorityNodes", 0),
        "target_dedicated": pool.get("targetDedicatedNodes", 0),
        "target_low_priority": pool.get("targetLowPriorityNodes", 0),
        "task_slots_per_node": pool.get("taskSlotsPerNode", 1),
    }


def evaluate(formula: str, pool: PoolDoc, samples: list[dict[str, float]], now: float,
             time_scale: float = 1.0, anchor: float | None = None) -> Outcome:
    """Evaluate on the emulator's virtual clock: with --time-scale X, X seconds pass per real second, so a
    formula's `TimeInterval_Minute * 5` window and Batch's 30 s sampling period keep their meaning."""
    try:
        import bigcompute.autoscale as autoscale
    except ImportError:
        return _fallback(formula, pool)
    start = anchor if anchor is not None else now

    def virtual(t: float) -> float:
        return start + (t - start) * time_scale

    history = autoscale.MetricHistory.from_samples([{**s, "time": virtual(s["time"])} for s in samples])
    state = autoscale.PoolState(**_pool_state(pool))
    result = autoscale.evaluate(formula, history, state, datetime.fromtimestamp(virtual(now), UTC))
    error = result.error.to_dict() if result.error is not None else None
    return Outcome(result.results, int(result.target_dedicated), int(result.target_low_priority),
                   result.node_deallocation_option, error)


_ASSIGN = re.compile(r"^\s*(\$\w+)\s*=\s*(\w+)\s*$")


def _fallback(formula: str, pool: PoolDoc) -> Outcome:
    values: dict[str, str] = {}
    for stmt in (s for s in formula.split(";") if s.strip()):
        m = _ASSIGN.match(stmt)
        if not m:
            error = {"code": "AutoScalingFormulaSyntaxError",
                     "message": "The autoscale evaluator (bigcompute.autoscale) is not available; only "
                                "constant assignments can be evaluated.",
                     "values": [{"name": "Statement", "value": stmt.strip()}]}
            return Outcome("", pool.get("targetDedicatedNodes", 0), pool.get("targetLowPriorityNodes", 0), None,
                           error)
        values[m.group(1)] = m.group(2)
    dedicated = int(values.get("$TargetDedicatedNodes", values.get("$TargetDedicated", "0")))
    low = int(values.get("$TargetLowPriorityNodes", "0"))
    option = values.get("$NodeDeallocationOption", "requeue")
    results = {"$TargetDedicatedNodes": str(dedicated), "$TargetLowPriorityNodes": str(low),
               "$NodeDeallocationOption": option}
    results.update({k: v for k, v in values.items() if k not in results})
    return Outcome(";".join(f"{k}={v}" for k, v in results.items()), dedicated, low, option, None)
