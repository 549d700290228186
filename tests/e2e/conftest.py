"""End-to-end runs of the shipped workloads on the local target (Azurite + the process emulator).

Each test copies one workload file and its program folder into a throwaway repository, renames the
workload so its job is unique in the session (the target is shared by every test), and runs
`bigcompute apply --stack test --wait --download out` the way a user does.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from bigcompute.cli.main import cli
from tests.runner.conftest import clients, local_files, local_target, repo  # noqa: F401

WORKLOADS = Path(__file__).resolve().parents[2] / "workloads"

# The runner's test stack has only `cpu`; the render workloads need a `render` pool too. Locally both
# names map to the session's one 2-slot node, as `bigcompute local up` gives each pool its local nodes.
RENDER_POOL = """\
    - {name: render, vmSize: Standard_F4s_v2, image: ubuntu-24.04, taskSlotsPerNode: 2,
       scale: {fixed: {dedicated: 1}}}
"""


# The MPI workload's pool: 3 local nodes that talk to each other, one task slot each, as multi-instance tasks need.
MPI_POOL = """\
    - {name: mpi, vmSize: Standard_D2s_v5, image: ubuntu-24.04, taskSlotsPerNode: 1, interNodeCommunication: true,
       scale: {fixed: {dedicated: 3}}, local: {nodes: 3}}
"""


@dataclass(frozen=True)
class Run:
    name: str  # the unique workload name of this run
    out: Path  # the download folder: out/<name>/<task id>/<file>
    output: str  # what `bigcompute apply` printed


@pytest.fixture
def e2e_repo(repo: Path, local_files: Path) -> Path:  # noqa: F811
    stack = repo / "stacks" / "Pulumi.test.yaml"
    if "name: render" not in stack.read_text():
        stack.write_text(stack.read_text().rstrip("\n") + "\n" + RENDER_POOL)
    outputs = json.loads((local_files / "outputs.json").read_text())
    outputs["poolIds"].setdefault("render", outputs["poolIds"]["cpu"])
    (local_files / "outputs.json").write_text(json.dumps(outputs))
    return repo


@pytest.fixture
def run_workload(e2e_repo: Path):
    """Copy `workloads/<name>.yaml` and `workloads/<name>/` into the repo under a unique name, apply it, wait
    and download; fails the test with the CLI's output when apply does not succeed. `edit` may change the
    workload file's text first (a test that runs a variant says which)."""

    def _run(name: str, edit: Callable[[str], str] | None = None) -> Run:
        unique = f"{name}-{uuid.uuid4().hex[:6]}"
        text = (WORKLOADS / f"{name}.yaml").read_text()
        text = edit(text) if edit else text
        text, count = re.subn(rf"^name: {re.escape(name)}$", f"name: {unique}", text, flags=re.M)
        assert count == 1, f"workloads/{name}.yaml has no `name: {name}` line"
        (e2e_repo / "workloads" / f"{name}.yaml").write_text(text)
        shutil.copytree(WORKLOADS / name, e2e_repo / "workloads" / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
        result = CliRunner().invoke(cli, ["apply", f"workloads/{name}.yaml", "--stack", "test", "--wait",
                                          "--download", "out", "--poll-interval", "0.2"],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return Run(unique, e2e_repo / "out" / unique, result.output)

    return _run


@pytest.fixture(scope="session")
def mpi_pool_id(process_emulator) -> str:
    """The session's inter-node pool on the process emulator (3 nodes, 1 slot each)."""
    from bigcompute.local.testing import make_pool

    return make_pool(process_emulator.client(), nodes=3, slots=1, enable_inter_node_communication=True)


@pytest.fixture
def mpi_repo(e2e_repo: Path, local_files: Path, mpi_pool_id: str) -> Path:  # noqa: F811
    """e2e_repo with the `mpi` pool in its stack and in the local target's outputs."""
    stack = e2e_repo / "stacks" / "Pulumi.test.yaml"
    stack.write_text(stack.read_text().rstrip("\n") + "\n" + MPI_POOL)
    outputs = json.loads((local_files / "outputs.json").read_text())
    outputs["poolIds"]["mpi"] = mpi_pool_id
    (local_files / "outputs.json").write_text(json.dumps(outputs))
    return e2e_repo
