"""Container images per workload, task group and merge (issue 16 item 9): the Batch JSON they render to, the
two command forms, the local target's refusal when no container engine works, and the engine's command line."""

from __future__ import annotations

import shlex
import stat
import textwrap
from pathlib import Path

import pytest

from bigcompute.emulator.compute.containers import container_argv
from bigcompute.emulator.core.engine import EngineProbe, probe
from bigcompute.local.fit import local_refusals
from bigcompute.workload import WorkloadError, iter_tasks, load_workload
from bigcompute.workload.wire import StorageContext, task_body

HEAD = "apiVersion: bigcompute/v1\nkind: Workload\nname: demo\npool: cpu\n"
IDENTITY = "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/p"
CTX = StorageContext("https://acct.blob.core.windows.net/inputs", "https://acct.blob.core.windows.net/outputs", IDENTITY)
IMAGES = """\
    container: {image: myreg.azurecr.io/sim:2}
    tasks:
      - {id: a, command: 'python sim.py > out.txt'}
      - id: b
        command: --frames 1-10 --out {name}
        sweep: {name: {values: [x y]}}
        container: {image: docker.io/acme/render:1, entrypoint: true, workingDirectory: image, options: --shm-size=1g}
    merge:
      command: cat outputs/*/out.txt
      container: {image: python:3.12-slim}
    """


def loaded(write, text: str):
    return load_workload(write(HEAD + textwrap.dedent(text)))


def bodies(lw) -> dict[str, dict]:
    return {t.id: task_body(t, lw.workload, "job-1", CTX, {}) for t in iter_tasks(lw.workload, lw.files)}


def test_each_group_and_the_merge_run_in_their_own_image(write):
    tasks = bodies(loaded(write, IMAGES))
    # shell form: the image's ENTRYPOINT is cleared and the command runs under /bin/sh -c; an ACR image is
    # pulled as the pool identity, never with a password
    assert tasks["a"]["containerSettings"] == {
        "imageName": "myreg.azurecr.io/sim:2", "containerRunOptions": "--entrypoint=",
        "registry": {"registryServer": "myreg.azurecr.io", "identityReference": {"resourceId": IDENTITY}}}
    assert tasks["a"]["commandLine"] == "/bin/sh -c 'python sim.py > out.txt'"
    # entrypoint form: the words are the ENTRYPOINT's arguments (a placeholder stays one word), no shell
    assert tasks["b"]["containerSettings"] == {"imageName": "docker.io/acme/render:1",
                                               "containerRunOptions": "--shm-size=1g",
                                               "workingDirectory": "containerImageDefault"}
    assert shlex.split(tasks["b"]["commandLine"]) == ["--frames", "1-10", "--out", "x y"]
    assert tasks["merge"]["containerSettings"] == {"imageName": "python:3.12-slim", "containerRunOptions": "--entrypoint="}


def test_a_workload_without_images_sends_no_container_settings(write):
    tasks = bodies(loaded(write, "tasks: [{id: a, command: ./a}]\n"))
    assert "containerSettings" not in tasks["a"]


def test_the_entrypoint_form_is_refused_for_tasks_with_inputs(write):
    with pytest.raises(WorkloadError) as e:
        loaded(write, """\
            inputs: [data/*.csv]
            tasks:
              - id: a
                command: --in data
                container: {image: acme/tool:1, entrypoint: true}
            """)
    [d] = e.value.diagnostics
    assert (d.line, d.code) == (9, "container") and "use the shell form" in d.message


def _fake_engine(folder: Path, name: str, code: int, said: str = "") -> None:
    script = folder / name
    script.write_text(f"#!/bin/sh\necho {shlex.quote(said)} >&2\nexit {code}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_the_probe_takes_the_first_engine_that_answers(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert probe() == EngineProbe(None, ("docker: not installed", "podman: not installed"))
    _fake_engine(tmp_path, "docker", 1, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock")
    found = probe()
    assert found.engine is None and found.why_not == ("docker info: Cannot connect to the Docker daemon at "
                                                      "unix:///var/run/docker.sock; podman: not installed")
    _fake_engine(tmp_path, "podman", 0)
    assert probe().engine == "podman"


def test_the_local_target_refuses_images_when_no_engine_works(write, tmp_path, monkeypatch):
    lw = loaded(write, IMAGES)
    monkeypatch.setenv("PATH", str(tmp_path))
    _fake_engine(tmp_path, "docker", 1, "Cannot connect to the Docker daemon")
    [d] = local_refusals(lw, probe())
    assert (d.line, d.code) == (5, "local-target")
    assert d.message == ("container image myreg.azurecr.io/sim:2: the local target runs container tasks with docker "
                         "or podman, and none works on this machine (docker info: Cannot connect to the Docker "
                         "daemon; podman: not installed); start a container engine, or run this workload on Azure "
                         "(--target azure)")
    assert local_refusals(lw, EngineProbe("podman", ())) == []
    assert local_refusals(loaded(write, "tasks: [{id: a, command: ./a}]\n"), EngineProbe(None, ())) == []


def test_the_command_line_a_local_node_runs_for_a_container_task(tmp_path):
    root = str(tmp_path / "node")
    wd = tmp_path / "node" / "workitems" / "job-1" / "job-1" / "a" / "wd"
    settings = {"imageName": "myreg.azurecr.io/sim:2", "containerRunOptions": "--entrypoint= --shm-size=1g"}
    argv = container_argv("podman", settings, "/bin/sh -c 'python sim.py > out.txt'", root, wd,
                          {"AZ_BATCH_TASK_ID": "a", "SECRETLESS": "value never on the command line"})
    assert argv == ["podman", "run", "--rm", "--network", "host", "-v", f"{root}:{root}", "-w", str(wd),
                    "-e", "AZ_BATCH_TASK_ID", "-e", "SECRETLESS", "--entrypoint=", "--shm-size=1g",
                    "myreg.azurecr.io/sim:2", "/bin/sh", "-c", "python sim.py > out.txt"]
    image_dir = container_argv("docker", {**settings, "workingDirectory": "containerImageDefault"}, "--x 1", root, wd, {})
    assert "-w" not in image_dir and image_dir[-3:] == ["myreg.azurecr.io/sim:2", "--x", "1"]
