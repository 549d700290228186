"""The merge: each MPI run against heat-sweep's single-process solution of the same plate (heat.simulate).

The decomposed run performs the same floating-point operations on every cell, so the fields must be equal,
not merely close; the task fails otherwise. Writes <out>/compare.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "heat-sweep"))
from heat import simulate  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--out", type=Path, required=True)
args = parser.parse_args()

runs = sorted(Path(os.environ["BIGCOMPUTE_TASK_OUTPUTS"]).glob("*/run.json"))
if not runs:
    raise SystemExit("no MPI run's outputs found")
report, mismatched = {}, []
for path in runs:
    run = json.loads(path.read_text())
    mpi_field = np.load(path.with_name("field.npy"))
    _, reference = simulate(run["alpha"], run["boundary"], run["side_m"], run["cells"], run["seconds"])
    diff = float(np.abs(mpi_field - reference).max())
    equal = bool(np.array_equal(mpi_field, reference))
    report[path.parent.name] = {"boundary": run["boundary"], "ranks": run["ranks"], "hosts": run["hosts"],
                                "steps": run["steps"], "max_abs_difference": diff, "equal": equal}
    print(f"{path.parent.name}: {run['ranks']} ranks, max |MPI - single process| = {diff:.3g} K, equal: {equal}")
    if not equal:
        mismatched.append(path.parent.name)
args.out.mkdir(parents=True, exist_ok=True)
(args.out / "compare.json").write_text(json.dumps(report, indent=1) + "\n")
if mismatched:
    raise SystemExit(f"MPI result differs from the single-process solution: {', '.join(mismatched)}")
