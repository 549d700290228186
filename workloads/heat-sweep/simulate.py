"""One task: simulate the plate for one diffusivity and boundary; write run.json and the final field."""

import argparse
import json
from pathlib import Path

import numpy as np

from heat import BOUNDARIES, simulate

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, required=True, help="thermal diffusivity, m^2/s")
parser.add_argument("--boundary", choices=BOUNDARIES, required=True)
parser.add_argument("--side", type=float, default=0.1, help="plate side, m")
parser.add_argument("--cells", type=int, default=64, help="grid cells per side")
parser.add_argument("--seconds", type=float, default=30.0, help="simulated time, s")
parser.add_argument("--out", type=Path, default=Path("results"))
args = parser.parse_args()

result, field = simulate(args.alpha, args.boundary, args.side, args.cells, args.seconds)
args.out.mkdir(parents=True, exist_ok=True)
(args.out / "run.json").write_text(json.dumps(result, indent=1) + "\n")
np.save(args.out / "field.npy", field)
print(f"alpha={args.alpha:g} {args.boundary}: {result['steps']} steps of {result['dt']:.3g}s, "
      f"peak {result['peak_start']:.1f} -> {result['peak_end']:.1f} C, heat retained {result['heat_retained']:.4f}, "
      f"energy balance error {result['energy_balance_error']:.1e}, "
      f"mode decay rate {result['mode_rate']:.5g}/s (analytic {result['mode_rate_analytic']:.5g}/s)")
# Results that break exact properties of the scheme are wrong, whatever the exit code would say.
if not (result["energy_balance_error"] <= 1e-9 and result["within_initial_range"]):  # NaN fails too
    raise SystemExit("energy balance or maximum principle violated: the run is not to be trusted")
