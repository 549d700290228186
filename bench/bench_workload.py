"""Issue 3: validate and expand a 1,000,000-task sweep while streaming (target < 10 s, < 150 MB peak RSS),
beside the floor of merely iterating the same parameter product, each in a fresh interpreter."""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

from bench.harness import Figure, run_child

WORKLOAD = textwrap.dedent("""\
    apiVersion: bigcompute/v1
    kind: Workload
    name: sweep-1m
    pool: cpu
    tasks:
      - id: run-{a:03d}-{b:03d}-{c:02d}
        command: python3 simulate.py --a {a} --b {b} --c {c} --out out/{index}.npz
        sweep:
          a: {start: 0, stop: 100}
          b: {start: 0, stop: 100}
          c: {start: 0, stop: 100}
        outputs: ["out/*.npz"]
""")

FLOOR = """
from itertools import product
n = 0
for a, b, c in product(range(100), range(100), range(100)):
    n += 1
assert n == 1_000_000
"""

MEASURED = """
import sys
from bigcompute.workload import load_workload, iter_tasks
lw = load_workload(sys.argv[1])
n = sum(1 for _ in iter_tasks(lw.workload, lw.files))
assert n == 1_000_000, n
"""


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sweep.yaml"
        path.write_text(WORKLOAD)
        floor_s, floor_rss, _ = run_child(FLOOR)
        wall, rss, _ = run_child(MEASURED, str(path))
    mb = 1024 * 1024
    return [
        Figure("validate + expand 1,000,000-task sweep: time", wall, "s", floor_s,
               "iterate the parameter product", "< 10 s", wall < 10),
        Figure("validate + expand 1,000,000-task sweep: peak RSS", rss / mb, "MB", floor_rss / mb,
               "interpreter iterating the product", "< 150 MB", rss / mb < 150),
    ]
