"""Submitting through throttling (issue 18's scale model, docs/scale.md): `apply` of 20,000 tasks to an
emulator that answers 10% of requests with 429 TooManyRequests and `Retry-After: 1` (and 2% with 503
ServerBusy), beside the same apply to an emulator without faults. What the model says the runner does when
Batch throttles: back off as told (azure-core's retry policy honours Retry-After) and lose or double nothing.
The verdict is on the outcome: every task in the job exactly once, after the faults were served; the ratio
is what backing off cost.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.bench_runner import RUNNER, WORKLOAD, _pool, _target_file
from bench.harness import Figure, run_child, scaled
from bench.services import Azurite, Service

TASKS = scaled(20_000, 500)
FAULTS = "429=0.10,503=0.02"


def _apply(folder: Path, workload: Path, faults: str) -> tuple[float, dict[str, int], int]:
    emu, az = Service("instant", faults=faults), Azurite()
    try:
        _pool(emu)  # through the faults too: the SDK retries it
        target = _target_file(folder, emu, az)
        wall, _, _ = run_child(RUNNER, str(target), str(workload), str(TASKS))  # asserts report.added == TASKS
        served = emu.faults_served()
        jobs = list(emu.client().list_jobs())
        held = sum(1 for _ in emu.client().list_tasks(jobs[0].id, select=["id"])) if len(jobs) == 1 else -1
    finally:
        emu.close()
        az.close()
    return wall, served, held


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / ".git").mkdir()
        workload = folder / "throttled.yaml"
        workload.write_text(WORKLOAD.format(name="throttled", n=TASKS))
        floor, _, _ = _apply(folder, workload, "")
        wall, served, held = _apply(folder, workload, FAULTS)
    shown = ", ".join(f"{n} x {kind}" for kind, n in sorted(served.items())) or "none"
    return [Figure(f"apply of {TASKS:,} tasks while Batch throttles ({FAULTS}; served: {shown}); job holds "
                   f"{held:,} tasks", wall, "s", floor, "the same apply, no faults",
                   "every task exactly once, faults served", held == TASKS and served.get("429", 0) > 0)]
