"""One task: simulate the plate for one diffusivity and boundary; write run.json and the final field."""

import argparse
import json
from pathlib import Path

import numpy as np

from heat import check, plate_arguments, simulate

parser = plate_arguments(argparse.ArgumentParser())
parser.add_argument("--out", type=Path, default=Path("results"))
args = parser.parse_args()

result, field = simulate(args.alpha, args.boundary, args.side, args.cells, args.seconds)
print(f"alpha={args.alpha:g} {args.boundary}: {result['steps']} steps of {result['dt']:.3g}s, "
      f"peak {result['peak_start']:.1f} -> {result['peak_end']:.1f} C, heat retained {result['heat_retained']:.4f}, "
      f"energy balance error {result['energy_balance_error']:.1e}, "
      f"slowest mode {result['slowest_mode']} decays at {result['slowest_mode_rate']:.5g}/s "
      f"(analytic {result['slowest_mode_rate_analytic']:.5g}/s)")
# Results that break exact properties of the scheme are wrong, whatever the exit code would say.
problems = check(result)
if problems:
    raise SystemExit("the run is not to be trusted: " + "; ".join(problems))
args.out.mkdir(parents=True, exist_ok=True)
(args.out / "run.json").write_text(json.dumps(result, indent=1) + "\n")
np.save(args.out / "field.npy", field)

