"""What the local target cannot run is refused by `plan` (so by `apply`) before anything is created: a workload
on a Windows pool, and container images when no container engine works on this machine (issue 16 items 9, 10)."""

from __future__ import annotations

import textwrap
import uuid

import pytest

from bigcompute.emulator.core.engine import EngineProbe
from bigcompute.local import fit
from bigcompute.runner.plan import list_jobs, make_plan
from bigcompute.runner.session import InvalidInput, load_inputs
from tests.runner.conftest import STACK, write_workload

WINDOWS_POOL = """\
    - {name: win, vmSize: Standard_D2s_v5, image: windows-2022, scale: {fixed: {dedicated: 1}}}
"""


def _refused(clients) -> list:
    _, loaded = load_inputs(["workloads"], "test")
    before = {j.id for j in list_jobs(clients.batch)}
    with pytest.raises(InvalidInput) as e:
        make_plan(clients, loaded, quota=50)
    assert {j.id for j in list_jobs(clients.batch)} == before  # nothing created
    return e.value.diagnostics


def test_a_container_workload_is_refused_when_no_engine_works(repo, clients, monkeypatch):
    monkeypatch.setattr(fit, "machine_engine", lambda: EngineProbe(None, ("docker info: Cannot connect to the "
                                                                         "Docker daemon", "podman: not installed")))
    name = f"img-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, """\
        container: {image: python:3.12-slim}
        tasks: [{id: a, command: python -c 'print(1)'}]
        """)
    (repo / "stacks" / "Pulumi.test.yaml").write_text(textwrap.dedent(STACK).replace(
        "taskSlotsPerNode: 2,", "taskSlotsPerNode: 2, containerImages: [python:3.12-slim],").replace(
        "image: ubuntu-24.04", "image: ubuntu-hpc-22.04"))
    [d] = _refused(clients)
    assert (d.line, d.code) == (5, "local-target")
    assert "none works on this machine (docker info: Cannot connect to the Docker daemon; podman: not installed)" \
        in d.message


def test_a_workload_on_a_windows_pool_is_refused_locally(repo, clients):
    (repo / "stacks" / "Pulumi.test.yaml").write_text(textwrap.dedent(STACK) + WINDOWS_POOL)
    name = f"win-{uuid.uuid4().hex[:6]}"
    path = write_workload(repo, name, "tasks: [{id: a, command: echo %COMPUTERNAME%}]\n")
    path.write_text(path.read_text().replace("pool: cpu", "pool: win"))
    [d] = _refused(clients)
    assert (d.line, d.code) == (4, "local-target")
    assert "pool 'win' runs Windows" in d.message and "--target azure" in d.message
