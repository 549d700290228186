"""heat-mpi: the heat plate solved by MPI ranks (Debian's Open MPI and mpi4py) spread over the 3 local nodes of an
inter-node pool, as multi-instance tasks; the merge checks each field against heat-sweep's single-process solver.

Checked here too, from the raw outputs: both MPI fields equal the single-process solution exactly, the ranks ran
as 3 processes over the hosts Batch listed, and each task was a multi-instance task whose two subtasks completed
on the two other nodes."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np

WORKLOADS = Path(__file__).resolve().parents[2] / "workloads"


def test_heat_mpi_equals_the_single_process_solution(mpi_repo, run_workload, clients, mpi_pool_id):
    # the workload reads heat-sweep's scheme (inputs: heat-sweep/heat.py)
    shutil.copytree(WORKLOADS / "heat-sweep", mpi_repo / "workloads" / "heat-sweep",
                    ignore=shutil.ignore_patterns("__pycache__"))
    run = run_workload("heat-mpi")
    assert f"{run.name}: all 3 tasks succeeded" in run.output

    sys.path.insert(0, str(WORKLOADS / "heat-sweep"))
    try:
        from heat import simulate
    finally:
        sys.path.remove(str(WORKLOADS / "heat-sweep"))
    [job] = [j.id for j in clients.batch.list_jobs() if j.id.startswith(f"{run.name}-")]
    outputs = clients.container("outputs")
    for boundary in ("insulated", "cold"):
        task = f"plate-{boundary}"
        field = np.load(io.BytesIO(outputs.download_blob(f"{job}/{task}/field.npy").readall()))
        info = json.loads(outputs.download_blob(f"{job}/{task}/run.json").readall())
        _, reference = simulate(1.11e-4, boundary, 0.1, 32, 30.0)
        assert np.array_equal(field, reference), f"{task}: max diff {np.abs(field - reference).max()}"
        assert info["ranks"] == 3 and len(info["bands"]) == 3  # one rank per host of AZ_BATCH_HOST_LIST

        got = clients.batch.get_task(job, task)
        assert got.multi_instance_settings.number_of_instances == 3
        assert got.node_info.pool_id == mpi_pool_id
        subtasks = list(clients.batch.list_subtasks(job, task))
        assert sorted(s.id for s in subtasks) == [1, 2]
        assert all(s.state == "completed" and s.exit_code == 0 for s in subtasks)
        assert len({s.node_info.node_id for s in subtasks} | {got.node_info.node_id}) == 3

    # the merge's own verdict, downloaded as the user gets it
    compare = json.loads((run.out / "merge" / "compare.json").read_text())
    assert {v["boundary"]: (v["equal"], v["max_abs_difference"], v["ranks"]) for v in compare.values()} == {
        "insulated": (True, 0.0, 3), "cold": (True, 0.0, 3)}
