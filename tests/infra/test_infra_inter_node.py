"""The Pulumi program gives a stack pool with `interNodeCommunication: true` Batch's inter-node communication
(pulumi-azure-native Pool.interNodeCommunication: Enabled), under Pulumi's mocks; other pools get no such input,
so existing pools see no change. Changing it replaces the pool (Azure cannot update it on a live pool)."""

from __future__ import annotations

from bigcompute.infra.plan import build_plan
from components import pool_spec

MPI_POOL = """\
    - name: mpi
      vmSize: Standard_D2s_v5
      image: ubuntu-24.04
      interNodeCommunication: true
      scale:
        fixed: {dedicated: 3}
"""


def test_the_pool_enables_inter_node_communication(project, stack_text, fixed_pool):
    plan = build_plan("test", project(stack_text(pools=fixed_pool() + MPI_POOL)))
    assert plan.violations == []
    pools = {r.inputs["poolName"]: r.inputs for r in plan.graph.resources("azure-native:batch:Pool")}
    assert pools["mpi"]["interNodeCommunication"] == "Enabled"
    assert pools["mpi"]["taskSlotsPerNode"] == 1
    assert "interNodeCommunication" not in pools["cpu"]


def test_changing_it_replaces_the_pool():
    assert "interNodeCommunication" in pool_spec.REPLACE_ON_CHANGES


def test_the_dev_stack_has_an_mpi_pool(stack_plans):
    pools = {r.inputs["poolName"]: r.inputs for r in stack_plans("dev").graph.resources("azure-native:batch:Pool")}
    assert pools["mpi"]["interNodeCommunication"] == "Enabled" and pools["mpi"]["taskSlotsPerNode"] == 1
