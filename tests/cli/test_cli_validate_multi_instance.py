"""`bigcompute validate --stack` on multi-instance (MPI) workloads: a pool without inter-node communication, or
one Azure would refuse for its size, fails with the file, line and field, exit code 2."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_cli

WORKLOAD = """\
apiVersion: bigcompute/v1
kind: Workload
name: mpi
pool: {pool}
tasks:
  - id: solve
    command: mpirun --host $AZ_BATCH_HOST_LIST hostname
    multiInstance: {{nodes: 2}}
"""
STACK = """\
config:
  bigcompute:location: westeurope
  bigcompute:environment: test
  bigcompute:pools:
    - {{name: cpu, vmSize: Standard_D2s_v5, image: ubuntu-24.04, scale: {{fixed: {{dedicated: 2}}}}}}
    - {{name: mpi, vmSize: Standard_D2s_v5, image: ubuntu-24.04, interNodeCommunication: true,
       scale: {{fixed: {{dedicated: {mpi_nodes}}}}}, local: {{nodes: 2}}}}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch):
    (tmp_path / ".git").mkdir()
    (tmp_path / "Pulumi.yaml").write_text("name: project\nruntime: python\n")
    (tmp_path / "workloads").mkdir()
    (tmp_path / "stacks").mkdir()
    monkeypatch.chdir(tmp_path)

    def _write(pool: str, mpi_nodes: int = 2) -> Path:
        (tmp_path / "workloads" / "mpi.yaml").write_text(WORKLOAD.format(pool=pool))
        (tmp_path / "stacks" / "Pulumi.test.yaml").write_text(textwrap.dedent(STACK.format(mpi_nodes=mpi_nodes)))
        return tmp_path
    return _write


def test_a_pool_with_inter_node_communication_validates(project):
    project("mpi")
    result = run_cli("validate", "--stack", "test")
    assert result.exit_code == 0, result.output
    assert "ok       workloads/mpi.yaml (1 task, 0 input files)" in result.output


def test_a_pool_without_it_is_refused_at_the_multi_instance_block(project):
    project("cpu")
    result = run_cli("validate", "--stack", "test")
    assert result.exit_code == 2, result.output
    assert ("workloads/mpi.yaml:8:5: $.tasks[0].multiInstance: pool 'cpu' does not enable inter-node communication: Batch never schedules a "
            "multi-instance task there") in result.output
    assert "interNodeCommunication: true" in result.output
    assert run_cli("validate").exit_code == 0  # without --stack no pool is known: nothing to check it against


def test_azure_refuses_more_than_100_nodes_with_inter_node_communication(project):
    project("mpi", mpi_nodes=101)
    result = run_cli("validate", "--stack", "test")
    assert result.exit_code == 2, result.output
    stack = os.path.join("stacks", "Pulumi.test.yaml")
    assert (f"{stack}:7:23: $.config.bigcompute:pools[1].scale.fixed: 101 nodes in a pool with interNodeCommunication: Batch allows at most 100 "
            "(https://learn.microsoft.com/azure/batch/batch-quota-limit#pool-size-limits)") in result.output
