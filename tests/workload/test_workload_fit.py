"""A workload fits the stack pool it names (issue 16 items 10, 11): its images are the pool's, its slots fit a
node, its command lines are written for the pool's OS; on a Windows pool commands run under cmd /c."""

from __future__ import annotations

import textwrap

import pytest

from bigcompute.config.images import IMAGE_ALIASES
from bigcompute.config.model import ContainerRegistry, FixedScale, PoolConfig
from bigcompute.workload import WorkloadError, iter_tasks, load_workload
from bigcompute.workload.wire import StorageContext, task_body
from tests.conftest import run_cli

HEAD = "apiVersion: bigcompute/v1\nkind: Workload\nname: demo\npool: cpu\n"
CTX = StorageContext("https://acct.blob.core.windows.net/inputs", "https://acct.blob.core.windows.net/outputs", None)


def pool(image: str = "ubuntu-24.04", **kwargs) -> PoolConfig:
    return PoolConfig(name="cpu", vm_size="Standard_D4s_v5", image=IMAGE_ALIASES[image], scale=FixedScale(1), **kwargs)


def check(write, body: str, on: PoolConfig):
    """(problems, warnings) as (line, code, message)."""
    path = write(HEAD + textwrap.dedent(body))
    try:
        lw = load_workload(path, pools={"cpu": on})
    except WorkloadError as e:
        return [(d.line, d.code, d.message) for d in e.diagnostics], []
    return [], [(d.line, d.code, d.message) for d in lw.warnings]


CONTAINER_POOL = dict(image="ubuntu-hpc-22.04", container_images=("myreg.azurecr.io/sim:2",),
                      container_registries=(ContainerRegistry("myreg.azurecr.io", "/subscriptions/s/resourceGroups/r/"
                                            "providers/Microsoft.ContainerRegistry/registries/myreg"),))


def test_an_image_the_pool_lists_fits(write):
    assert check(write, "container: {image: myreg.azurecr.io/sim:2}\ntasks: [{id: a, command: ./a}]\n",
                 pool(**CONTAINER_POOL)) == ([], [])


@pytest.mark.parametrize(("on", "image", "said"), [
    (dict(), "python:3.12-slim", "the pool has no container runtime"),
    (CONTAINER_POOL, "python:3.12-slim", "is not among the containerImages of pool 'cpu' (myreg.azurecr.io/sim:2)"),
    (dict(image="ubuntu-hpc-22.04", container_images=("other.azurecr.io/sim:2",)), "other.azurecr.io/sim:2",
     "is in the Azure Container Registry other.azurecr.io, which is not among the containerRegistries"),
])
def test_an_image_the_pool_cannot_run_is_refused(write, on, image, said):
    problems, _ = check(write, f"tasks:\n  - {{id: a, command: ./a, container: {{image: '{image}'}}}}\n", pool(**on))
    [(line, code, message)] = problems
    assert (line, code) == (6, "pool-fit") and said in message


def test_slots_above_the_pools_are_refused(write):
    [(line, code, message)] = check(write, "tasks: [{id: a, command: ./a, settings: {slots: 3}}]\n",
                                    pool(task_slots_per_node=2))[0]
    assert (line, code) == (5, "slots") and "taskSlotsPerNode (2)" in message


def test_a_windows_command_line_is_refused_on_linux(write):
    [(line, code, message)] = check(write, "tasks: [{id: a, command: 'type %AZ_BATCH_TASK_DIR%\\\\x.txt'}]\n",
                                    pool())[0]
    assert (line, code) == (5, "pool-os") and "runs Linux" in message and "%AZ_BATCH_TASK_DIR%" in message


def test_on_windows_commands_run_under_cmd_and_posix_syntax_is_refused_or_warned(write):
    windows = pool("windows-2022")
    problems, _ = check(write, "tasks: [{id: a, command: /bin/bash -c 'echo $(date)'}]\n", windows)
    [(line, code, message)] = problems
    assert (line, code) == (5, "pool-os") and "POSIX shell syntax cmd cannot run" in message
    problems, warnings = check(write, "tasks: [{id: a, command: echo $HOME}]\n", windows)
    assert problems == [] and [(w[0], w[1]) for w in warnings] == [(5, "pool-os")]
    assert "'$HOME' looks like POSIX shell syntax" in warnings[0][2]
    lw = load_workload(write(HEAD + "tasks: [{id: a, command: 'echo %COMPUTERNAME% > out.txt'}]\n"),
                       pools={"cpu": windows})
    assert lw.warnings == ()
    [task] = iter_tasks(lw.workload, lw.files)
    assert task_body(task, lw.workload, "job-1", CTX, {})["commandLine"] == "cmd /c echo %COMPUTERNAME% > out.txt"


def test_inputs_are_refused_on_windows_pools(write):
    problems, _ = check(write, "inputs: [data/*.csv]\ntasks: [{id: a, command: type data\\\\part0.csv}]\n",
                        pool("windows-2022"))
    assert [(line, code) for line, code, _ in problems] == [(5, "pool-os")]
    assert "stages and verifies inputs with POSIX shell lines" in problems[0][2]


def test_validate_with_the_stack_refuses_a_workload_that_does_not_fit(repo, write, monkeypatch):
    (repo / "Pulumi.yaml").write_text("name: project\nruntime: python\n")
    (repo / "stacks").mkdir()
    (repo / "stacks" / "Pulumi.dev.yaml").write_text(textwrap.dedent("""\
        config:
          bigcompute:location: westeurope
          bigcompute:environment: dev
          bigcompute:pools:
            - {name: cpu, vmSize: Standard_D2s_v5, image: ubuntu-24.04, scale: {fixed: {dedicated: 1}}}
        """))
    monkeypatch.chdir(repo)
    path = write(HEAD + "container: {image: python:3.12-slim}\ntasks: [{id: a, command: ./a}]\n")
    result = run_cli("validate", str(path), "--stack", "dev")
    assert result.exit_code == 2
    assert f"{path}:5:" in result.output and "the pool has no container runtime" in result.output
    assert run_cli("validate", str(path)).exit_code == 0  # without the stack, the pool is unknown: not checked


def test_on_windows_the_preparation_and_release_tasks_run_under_cmd(write):
    from bigcompute.runner.jobs import job_model

    lw = load_workload(write(HEAD + "prepare: {command: mkdir C:\\scratch}\nrelease: {command: rmdir /s /q C:\\scratch}\n"
                                    "tasks: [{id: a, command: dir}]\n"), pools={"cpu": pool("windows-2022")})
    job = job_model(lw.workload, "job-1", "pool-1", "0" * 64, "dev").as_dict()
    assert job["jobPreparationTask"]["commandLine"] == "cmd /c mkdir C:\\scratch"
    assert job["jobReleaseTask"]["commandLine"] == "cmd /c rmdir /s /q C:\\scratch"
