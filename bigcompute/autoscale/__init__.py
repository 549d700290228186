"""Azure Batch autoscale formulas as code: grammar, checker, evaluator, presets and a pool simulator.

Public API (other packages import these names):
    parse(text, source="formula") -> Formula          raises FormulaError
    check(text, source="formula") -> list[FormulaError]
    evaluate(formula, history, pool, now) -> EvaluationResult
    MetricHistory, PoolState, EvaluationResult, AutoScaleRunError, FormulaError
    presets (PRESETS, Preset, render, PresetError), simulate, uncertainty (--runs, --compare), calibrate
    (a pool's history as a trace), limits (Batch's), plot (modules)
"""

from bigcompute.autoscale.errors import AutoScaleRunError, FormulaError
from bigcompute.autoscale.evaluate import EvaluationResult, evaluate
from bigcompute.autoscale.formula import Formula, check, parse
from bigcompute.autoscale.history import SAMPLE_PERIOD, MetricHistory, PoolState

__all__ = [
    "SAMPLE_PERIOD", "AutoScaleRunError", "EvaluationResult", "Formula", "FormulaError", "MetricHistory",
    "PoolState", "check", "evaluate", "parse",
]
