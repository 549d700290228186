"""The cost band of a planned run, as arithmetic on a loaded workload and stack: which prices, which task
time, which ceiling (the local-target test of `plan` shows the same figures end to end)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bigcompute.config import load_stack
from bigcompute.runner.cost import TaskTimes, estimate
from bigcompute.workload import load_workload

STACK = """\
config:
  bigcompute:location: westeurope
  bigcompute:environment: test
  bigcompute:pools:
    - name: cpu
      vmSize: Standard_D4s_v5
      image: ubuntu-24.04
      taskSlotsPerNode: 4
      scale: {autoscale: {preset: queue-active-spot, maxNodes: 5}}
      pricing: {dedicatedPerHour: 0.2, spotPerHour: 0.05}
"""


@pytest.fixture
def loaded(tmp_path: Path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.test.yaml").write_text(STACK)
    pool = load_stack(tmp_path / "stacks" / "Pulumi.test.yaml").pool("cpu")

    def workload(body: str):
        path = tmp_path / "w.yaml"
        path.write_text("apiVersion: bigcompute/v1\nkind: Workload\nname: w\npool: cpu\n" + textwrap.dedent(body))
        return load_workload(path).workload, pool

    return workload


SWEEP = "tasks:\n  - {id: 't{i}', command: 'echo {i}', sweep: {i: {start: 0, stop: 40}}}\n"


def test_history_band_runs_from_spot_at_the_median_to_dedicated_at_p90(loaded):
    workload, pool = loaded(SWEEP)
    times = TaskTimes(tuple(float(s) for s in range(60, 660, 60)), ("w-1234abcd",))  # 60 s ... 600 s
    cost = estimate(workload, 40, pool, times, "azure")
    # median 330 s, p90 540 s; 40 tasks on 4-slot nodes: 40 x 330 / 3600 / 4 = 0.9167 node-hours at spot 0.05,
    # 40 x 540 / 3600 / 4 = 1.5 node-hours at dedicated 0.2
    assert cost.basis == "history" and cost.node_hours == pytest.approx((0.91667, 1.5), rel=1e-4)
    assert cost.low == pytest.approx(0.91667 * 0.05, rel=1e-4) and cost.high == pytest.approx(0.3)
    assert cost.line() == ("w: $0.05 - $0.30 (history: 40 tasks x 5.5 min median, 9.0 min p90 of 10 tasks of "
                           "w-1234abcd on the azure target; 0.917-1.5 busy node-hours)")


def test_without_history_the_hourly_cost_is_capped_by_the_pool_and_the_job(loaded):
    workload, pool = loaded(SWEEP + "job: {maxWallClockTime: PT3H}\n")
    cost = estimate(workload, 40, pool, None, "azure")
    # 40 tasks / 4 slots = 10 nodes, but maxNodes is 5: 5 x 0.2 = 1.00/h; no timeout, so the job's PT3H caps it
    assert (cost.nodes, cost.per_hour, cost.high) == (5, pytest.approx(1.0), pytest.approx(3.0))
    assert cost.line() == ("w: $1.00/h while 5 nodes run, at most $3.00 (no task history: the pool's hourly cost x "
                           "the nodes the run can use, all dedicated; the ceiling is the job's maxWallClockTime 3.0 h)")


def test_slots_per_task_take_nodes(loaded):
    workload, pool = loaded(SWEEP + "defaults: {slots: 2}\n")
    assert estimate(workload, 4, pool, None, "azure").nodes == 2  # 2 tasks of 2 slots per 4-slot node


def test_a_multi_instance_task_takes_its_nodes(loaded):
    workload, pool = loaded("tasks:\n  - {id: 't{i}', command: mpirun x, sweep: {i: {start: 0, stop: 2}}, "
                            "multiInstance: {nodes: 2}}\n")
    assert estimate(workload, 2, pool, None, "azure").nodes == 4  # 2 tasks x 2 whole nodes, not 1 node of slots
    times = TaskTimes((3600.0,), ("w-1234abcd",))
    assert estimate(workload, 2, pool, times, "azure").node_hours == pytest.approx((4.0, 4.0))
