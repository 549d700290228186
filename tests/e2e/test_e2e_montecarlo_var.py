"""montecarlo-var: 16 seeded simulation tasks and a merge, checked against an independent reference.

The shipped model (log-normal returns) has no closed form for a portfolio's VaR, so the test runs the
workload with `--returns normal` (arithmetic returns, the only change): the P&L is then exactly normal and
VaR 99% / ES 97.5% follow from the portfolio's mean and covariance, computed here from the CSV files
without the workload's code. The interval's coverage over seeded replications is measured in
bench/bench_montecarlo.py (too slow for a test)."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from statistics import NormalDist

import numpy as np

FOLDER = Path(__file__).resolve().parents[2] / "workloads" / "montecarlo-var"
HORIZON_DAYS, TRADING_DAYS = 10, 252


def normal_var_es(folder: Path) -> tuple[float, float]:
    """VaR 99% and ES 97.5% of P&L = sum(value_i * (drift_i t + shock_i)), shocks ~ N(0, vol vol' corr t)."""
    rows = list(csv.DictReader((folder / "portfolio.csv").open()))
    value = np.array([float(r["quantity"]) * float(r["price"]) for r in rows])
    drift = np.array([float(r["annual_drift"]) for r in rows])
    vol = np.array([float(r["annual_vol"]) for r in rows])
    table = list(csv.reader((folder / "correlation.csv").open()))
    assert table[0][1:] == [r["asset"] for r in rows]
    corr = np.array([[float(x) for x in row[1:]] for row in table[1:]])
    t = HORIZON_DAYS / TRADING_DAYS
    mean, sd = value @ drift * t, math.sqrt(value @ (np.outer(vol, vol) * corr * t) @ value)
    z99, z975 = NormalDist().inv_cdf(0.99), NormalDist().inv_cdf(0.975)
    return -mean + sd * z99, -mean + sd * NormalDist().pdf(z975) / (1 - 0.975)


def normal_returns(text: str) -> str:
    assert text.count("--returns lognormal") == 2, "simulate and merge name the returns model"
    return text.replace("--returns lognormal", "--returns normal")


def test_distributed_var_matches_the_closed_form(run_workload, tmp_path):
    run = run_workload("montecarlo-var", edit=normal_returns)
    assert f"{run.name}: all 17 tasks succeeded" in run.output
    result = json.loads((run.out / "merge" / "var.json").read_text())
    assert (result["scenarios"], result["tasks"], result["returns"]) == (16 * 20_000, 16, "normal")
    assert result["drift"].startswith("included")
    assert result["ci_method"].startswith("batch means, Student t with 15 degrees of freedom")

    for key, exact in zip(("var_99", "es_97_5"), normal_var_es(FOLDER), strict=True):
        low, high = result[f"{key}_ci95"]
        # The t interval with 15 degrees of freedom: half-width = t_0.975,15 (2.1314) standard errors.
        assert math.isclose((high - low) / 2, (result[key] - low), rel_tol=1e-9)
        assert low < result[key] < high and (high - low) / 2 < 0.01 * exact
        # Independent truth within the interval (seeded, so this is one fixed draw, not a flaky one).
        assert low <= exact <= high, (key, exact, low, high)
    assert result["var_99"] > 0 and result["es_97_5"] > 0  # a loss, reported as a positive amount

    # Determinism: the same streams (SeedSequence children 0..15) in one process give the same numbers.
    reference_file = tmp_path / "reference.json"
    subprocess.run([sys.executable, "-B", "merge.py", "--reference", "16", "--returns", "normal",
                    "--out", str(reference_file)], cwd=FOLDER, check=True, capture_output=True)
    reference = json.loads(reference_file.read_text())
    for key in ("var_99", "es_97_5"):
        assert math.isclose(result[key], reference[key], rel_tol=1e-12), key


def test_the_interval_is_the_batch_means_t_interval(tmp_path):
    """Without the local target: 4 small tasks, then the merge; the half-width must be t(0.975, 3) =
    3.182446 (from tables) standard errors of the per-task estimates, not z = 1.96."""
    tasks = tmp_path / "tasks"
    for i in range(4):
        subprocess.run([sys.executable, "-B", "simulate.py", "--task-index", str(i), "--paths", "2000",
                        "--out", str(tasks / f"sim-{i:03d}" / f"pnl-{i}.npy")], cwd=FOLDER, check=True,
                       capture_output=True)
    out = tmp_path / "var.json"
    subprocess.run([sys.executable, "-B", "merge.py", "--out", str(out)], cwd=FOLDER, check=True,
                   capture_output=True, env={**os.environ, "BIGCOMPUTE_TASK_OUTPUTS": str(tasks)})
    result = json.loads(out.read_text())
    losses = [-np.load(tasks / f"sim-{i:03d}" / f"pnl-{i}.npy") for i in range(4)]
    var99 = np.array([np.quantile(x, 0.99) for x in losses])
    low, high = result["var_99_ci95"]
    assert result["tasks"] == 4
    assert math.isclose((high - low) / 2, 3.182446 * var99.std(ddof=1) / 2, rel_tol=1e-5)
    assert math.isclose(result["var_99"], np.quantile(np.concatenate(losses), 0.99), rel_tol=1e-12)
