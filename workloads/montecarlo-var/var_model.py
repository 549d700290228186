"""Portfolio Monte Carlo: correlated log-normal returns over a horizon, P&L per scenario, VaR and ES.

Shared by the per-task simulation, the merge, and the single-process reference run, so all three
compute with the same code. Each task's random stream is child `i` of one root SeedSequence: adding
tasks never changes the draws of earlier tasks.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

TRADING_DAYS = 252


def load_portfolio(folder: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    with open(folder / "portfolio.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    names = [r["asset"] for r in rows]
    quantity, price, drift, vol = (np.array([float(r[k]) for r in rows])
                                   for k in ("quantity", "price", "annual_drift", "annual_vol"))
    with open(folder / "correlation.csv", newline="") as f:
        table = list(csv.reader(f))
    header = table[0][1:]
    if header != names:
        raise SystemExit(f"correlation.csv assets {header} differ from portfolio.csv assets {names}")
    corr = np.array([[float(x) for x in row[1:]] for row in table[1:]])
    return names, quantity, price, drift, vol, corr


def simulate_pnl(folder: Path, root_seed: int, task_index: int, paths: int, horizon_days: int) -> np.ndarray:
    _, quantity, price, drift, vol, corr = load_portfolio(folder)
    rng = np.random.default_rng(np.random.SeedSequence(root_seed, spawn_key=(task_index,)))
    t = horizon_days / TRADING_DAYS
    cov = np.outer(vol, vol) * corr * t
    chol = np.linalg.cholesky(cov)
    shocks = rng.standard_normal((paths, len(vol))) @ chol.T
    log_returns = (drift - 0.5 * vol**2) * t + shocks
    return (quantity * price * np.expm1(log_returns)).sum(axis=1)


def risk_measures(pnl: np.ndarray) -> dict[str, float]:
    losses = -pnl
    var99 = float(np.quantile(losses, 0.99))
    var975 = float(np.quantile(losses, 0.975))
    return {"var_99": var99, "es_97_5": float(losses[losses >= var975].mean())}


def summarize(per_task: list[np.ndarray]) -> dict[str, object]:
    """VaR/ES of all scenarios, with a 95% confidence interval from the spread of per-task estimates."""
    pooled = risk_measures(np.concatenate(per_task))
    result: dict[str, object] = {"scenarios": int(sum(len(p) for p in per_task)), "tasks": len(per_task), **pooled}
    if len(per_task) > 1:
        for key in ("var_99", "es_97_5"):
            estimates = np.array([risk_measures(p)[key] for p in per_task])
            half = 1.96 * estimates.std(ddof=1) / np.sqrt(len(estimates))
            result[f"{key}_ci95"] = [pooled[key] - half, pooled[key] + half]
    return result


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
