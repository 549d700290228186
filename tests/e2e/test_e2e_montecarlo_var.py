"""montecarlo-var: 16 seeded simulation tasks and a merge; the distributed result must equal the same
simulation run in one process (`merge.py --reference`)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[2] / "workloads" / "montecarlo-var"


def test_distributed_var_equals_the_single_process_run(run_workload, tmp_path):
    run = run_workload("montecarlo-var")
    assert f"{run.name}: all 17 tasks succeeded" in run.output
    distributed = json.loads((run.out / "merge" / "var.json").read_text())

    reference_file = tmp_path / "reference.json"
    subprocess.run([sys.executable, "-B", "merge.py", "--reference", "16", "--out", str(reference_file)],
                   cwd=FOLDER, check=True, capture_output=True)
    reference = json.loads(reference_file.read_text())

    assert (distributed["scenarios"], distributed["tasks"]) == (16 * 20_000, 16)
    # Same streams (SeedSequence children 0..15), same code: the same numbers, not just close ones.
    for key in ("var_99", "es_97_5"):
        assert math.isclose(distributed[key], reference[key], rel_tol=1e-12), key
        low, high = distributed[f"{key}_ci95"]
        assert low < distributed[key] < high
    assert distributed["var_99"] > 0 and distributed["es_97_5"] > 0  # a loss, reported as a positive amount
