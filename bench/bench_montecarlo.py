"""Issue 20: do montecarlo-var's 95% intervals cover the truth 95% of the time? Seeded replications of the
workload's shape (16 batches) under normal returns, whose VaR and ES have a closed form; the floor is the
z = 1.96 interval on the same replications, which is too narrow with 16 batches."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from bench.harness import Figure, scaled

FOLDER = Path(__file__).resolve().parents[1] / "workloads" / "montecarlo-var"
REPLICATIONS, TASKS, PATHS = scaled(1000, 20), 16, 5000


def coverage() -> dict[str, tuple[float, float]]:
    """(t coverage, z coverage) per measure over REPLICATIONS seeded runs of TASKS x PATHS scenarios."""
    sys.path.insert(0, str(FOLDER))
    try:
        from var_model import closed_form, risk_measures, simulate_pnl, summarize
    finally:
        sys.path.remove(str(FOLDER))
    truth = closed_form(FOLDER, 10)
    hits = {key: [0, 0] for key in truth}
    for seed in range(REPLICATIONS):
        per_task = [simulate_pnl(FOLDER, seed, i, PATHS, 10, "normal") for i in range(TASKS)]
        result = summarize(per_task)
        for key, value in truth.items():
            low, high = result[f"{key}_ci95"]
            hits[key][0] += low <= value <= high
            estimates = np.array([risk_measures(p)[key] for p in per_task])
            half = 1.96 * estimates.std(ddof=1) / np.sqrt(TASKS)
            hits[key][1] += abs(result[key] - value) <= half
    return {key: (t / REPLICATIONS, z / REPLICATIONS) for key, (t, z) in hits.items()}


def run() -> list[Figure]:
    # 1,000 replications: a coverage's standard error is about 0.7 points, so 94% is 1.5 SE below 95%.
    return [Figure(f"montecarlo-var {key} 95% interval coverage ({REPLICATIONS} seeded runs, {TASKS}x{PATHS})",
                   100 * t, "%", 100 * z, "z = 1.96 interval", ">= 94 %", t >= 0.94)
            for key, (t, z) in coverage().items()]
