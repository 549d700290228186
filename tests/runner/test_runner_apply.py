"""apply on the local target: inputs synced, job and tasks created, outputs produced, re-apply idempotent."""

from __future__ import annotations

import uuid

from bigcompute.runner.apply import apply_workload
from bigcompute.runner.monitor import watch
from bigcompute.runner.plan import make_plan
from bigcompute.runner.session import load_inputs
from tests.runner.conftest import write_workload

WORKLOAD = """\
inputs: [prog/*.sh]
tasks:
  - id: t{i}
    command: sh prog/work.sh {i}
    sweep: {i: {start: 0, stop: 6}}
    outputs: [out/*.txt]
merge:
  command: cat $BIGCOMPUTE_TASK_OUTPUTS/*/sq.txt | sort -n | tr '\\n' ' ' > total.txt
  outputs: [total.txt]
"""


def test_apply_runs_to_completion_and_reapply_creates_nothing(repo, clients):
    (repo / "workloads" / "prog").mkdir()
    (repo / "workloads" / "prog" / "work.sh").write_text("mkdir -p out; echo $(( $1 * $1 )) > out/sq.txt\n")
    write_workload(repo, f"squares-{uuid.uuid4().hex[:6]}", WORKLOAD)
    _, loaded = load_inputs(["workloads"], "test")
    plan = make_plan(clients, loaded, quota=50)
    [wp] = plan.workloads
    assert wp.status == "new" and wp.task_count == 7 and len(wp.sync.missing) == 1
    report = apply_workload(clients, wp)
    assert report.added == 7
    final = watch(clients.batch, wp.job_id, total=7, interval=0.2, timeout=60)
    assert final.succeeded == 7 and final.failed == 0 and final.state == "completed"
    total = clients.container("outputs").download_blob(f"{wp.job_id}/merge/total.txt").readall()
    assert total.decode().split() == ["0", "1", "4", "9", "16", "25"]
    again = make_plan(clients, loaded, quota=50)
    assert again.workloads[0].status == "unchanged" and not again.workloads[0].sync.missing

