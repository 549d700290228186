"""A 1,000,000-task job on the local target (issue 18): the runner's peak RSS submitting it with `apply`
(target < 250 MB), the emulator's RSS holding it (< 400 MB), and `status` and one monitoring poll on it
(< 1 s each). The pool has no node, so the tasks stay active: the job is held, never run.

`status` is timed as the command does it (load the workload, plan it against the target: list jobs and
storage, then the job's task counts), in a fresh process after its imports; the poll is the monitor's
(job state + task counts). Each is the median of 3.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

from bench.bench_runner import RUNNER, WORKLOAD, _pool, _target_file
from bench.harness import Figure, run_child, scaled
from bench.services import Azurite, Service

NOTES = """\
The job is held by a pool without nodes. `status` is timed as the command works: it loads the workload
without the per-task checks (a read; apply ran them), plans against the target and reads the job's task
counts; the emulator reads the job's few counts rows, kept exact by every task transition. The apply's wall
time is CPU on 2 shared cores: the emulator's ~60 µs a task (bench_emulator) and the runner's expansion and
encoding.
"""

TASKS = scaled(1_000_000, 1000)
REPEAT = 3

READ = """
import json, sys, time
from bigcompute.runner.target import from_outputs
from bigcompute.runner.clients import connect
from bigcompute.runner.monitor import poll
from bigcompute.runner.plan import make_plan
from bigcompute.runner.status import workload_status
from bigcompute.workload import load_workload
spec = json.load(open(sys.argv[1]))
status, polls = [], []
for _ in range(int(sys.argv[3])):
    t0 = time.perf_counter()
    target = from_outputs(spec["outputs"], "local", "bench", sys.argv[1], spec["credentials"])
    clients = connect(target)
    loaded = [load_workload(sys.argv[2], scan_tasks=False)]  # as `status` loads it
    rows = workload_status(clients, make_plan(clients, loaded, quota=100))
    status.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    progress = poll(clients.batch, rows[0].job)
    polls.append(time.perf_counter() - t0)
    clients.close()
print(json.dumps({"status": status, "poll": polls, "active": rows[0].active, "total": progress.total}))
"""


def run() -> list[Figure]:
    mb = 2**20
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / ".git").mkdir()
        workload = folder / "million.yaml"
        workload.write_text(WORKLOAD.format(name="million", n=TASKS))
        emu, az = Service("instant"), Azurite()
        try:
            _pool(emu)
            target = _target_file(folder, emu, az)
            idle = emu.peak_rss()
            submit_s, runner_rss, _ = run_child(RUNNER, str(target), str(workload), str(TASKS))
            emu_peak, emu_now = emu.peak_rss(), emu.rss()
            _, _, out = run_child(READ, str(target), str(workload), str(REPEAT))
            reads = json.loads(out)
            emu_peak = max(emu_peak, emu.peak_rss())
        finally:
            emu.close()
            az.close()
    assert reads["active"] == reads["total"] == TASKS, reads
    status_s, poll_s = statistics.median(reads["status"]), statistics.median(reads["poll"])
    n = f"{TASKS:,}"
    return [
        Figure(f"{n}-task job: apply's wall time (validate, plan, create job, add {n}, mark submitted)", submit_s,
               "s", None, "", ""),
        Figure(f"{n}-task job: runner peak RSS submitting it", runner_rss / mb, "MiB", None, "", "< 250 MB",
               runner_rss < 250e6),
        Figure(f"{n}-task job: emulator peak RSS holding it (RSS after submit: {emu_now / mb:.0f} MiB)",
               emu_peak / mb, "MiB", idle / mb, "idle service", "< 400 MB", emu_peak < 400e6),
        Figure(f"{n}-task job: `status` (plan + task counts, fresh process after imports, median of {REPEAT})",
               status_s, "s", None, "", "< 1 s", status_s < 1),
        Figure(f"{n}-task job: one monitoring poll (job + task counts, median of {REPEAT})", poll_s, "s", None, "",
               "< 1 s", poll_s < 1),
    ]
