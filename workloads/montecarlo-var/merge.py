"""Merge: pool every task's scenarios into VaR 99% and ES 97.5% with 95% confidence intervals.

Each task's outputs are under $BIGCOMPUTE_TASK_OUTPUTS/<task id>/; `--reference N` instead runs the
whole simulation in this one process (N tasks' streams): the same numbers, a check of determinism.
`--returns` and `--horizon-days` are recorded in var.json with the drift treatment (and used by
`--reference`); pass the tasks' values.
"""

import argparse
import os
from pathlib import Path

import numpy as np

from var_model import DRIFT, RETURNS, simulate_pnl, summarize, write_json

parser = argparse.ArgumentParser()
parser.add_argument("--out", type=Path, default=Path("results/var.json"))
parser.add_argument("--reference", type=int, metavar="TASKS", help="simulate TASKS streams here instead")
parser.add_argument("--paths", type=int, default=20_000)
parser.add_argument("--root-seed", type=int, default=20261125)
parser.add_argument("--horizon-days", type=int, default=10)
parser.add_argument("--returns", choices=RETURNS, default="lognormal")
args = parser.parse_args()

if args.reference:
    here = Path(__file__).parent
    per_task = [simulate_pnl(here, args.root_seed, i, args.paths, args.horizon_days, args.returns)
                for i in range(args.reference)]
else:
    folder = Path(os.environ["BIGCOMPUTE_TASK_OUTPUTS"])
    files = sorted(folder.glob("*/pnl-*.npy"), key=lambda p: int(p.stem.split("-")[1]))
    if not files:
        raise SystemExit(f"no task results under {folder}")
    per_task = [np.load(f) for f in files]

result = {"returns": args.returns, "horizon_days": args.horizon_days, "drift": DRIFT, **summarize(per_task)}
write_json(args.out, result)
print(f"VaR 99%: {result['var_99']:,.0f}   ES 97.5%: {result['es_97_5']:,.0f}   "
      f"({result['scenarios']:,} scenarios from {result['tasks']} tasks)")
