"""One Monte Carlo task: simulate `--paths` portfolio scenarios on stream `--task-index` of the root seed."""

import argparse
from pathlib import Path

import numpy as np

from var_model import RETURNS, simulate_pnl

parser = argparse.ArgumentParser()
parser.add_argument("--task-index", type=int, required=True)
parser.add_argument("--paths", type=int, default=20_000)
parser.add_argument("--root-seed", type=int, default=20261125)
parser.add_argument("--horizon-days", type=int, default=10)
parser.add_argument("--returns", choices=RETURNS, default="lognormal",
                    help="lognormal (the model) or normal (arithmetic returns: VaR/ES have a closed form)")
parser.add_argument("--out", type=Path, required=True)
args = parser.parse_args()

pnl = simulate_pnl(Path(__file__).parent, args.root_seed, args.task_index, args.paths, args.horizon_days,
                   args.returns)
args.out.parent.mkdir(parents=True, exist_ok=True)
np.save(args.out, pnl)
print(f"task {args.task_index}: {len(pnl)} scenarios, mean P&L {pnl.mean():,.0f}")
