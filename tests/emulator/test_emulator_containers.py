"""A container task on a local node (issue 16 item 9): the executor runs the task through this machine's
container engine with the node's folders mounted, the task's working directory and environment by name, and
the engine's exit code is the task's. The engine here is a stand-in script (this machine has a docker client
without a daemon, so no real engine runs); what it receives is exactly what docker or podman would."""

from __future__ import annotations

import json
import stat

from bigcompute.emulator.compute import executor as executor_module
from bigcompute.emulator.compute.executor import RunHandle, SubprocessExecutor, TaskRun
from bigcompute.emulator.core.engine import EngineProbe

FAKE_ENGINE = """#!/usr/bin/env python3
import json, os, sys
json.dump({"argv": sys.argv[1:], "task_id": os.environ.get("AZ_BATCH_TASK_ID")}, open(sys.argv[0] + ".json", "w"))
sys.exit(7)
"""


def test_a_container_task_runs_through_the_engine_with_its_folders_and_environment(tmp_path, monkeypatch):
    engine = tmp_path / "bin" / "docker"
    engine.parent.mkdir()
    engine.write_text(FAKE_ENGINE)
    engine.chmod(engine.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(executor_module, "machine_engine", lambda: EngineProbe("docker", (), str(engine)))
    node = tmp_path / "node"
    task_dir = node / "workitems" / "job-1" / "job" / "t1"
    run = TaskRun("task", "/bin/sh -c 'python sim.py > out.txt'", task_dir,
                  {"AZ_BATCH_NODE_ROOT_DIR": str(node), "AZ_BATCH_TASK_ID": "t1", "PATH": "/usr/bin:/bin"},
                  container={"imageName": "myreg.azurecr.io/sim:2", "containerRunOptions": "--entrypoint="})
    result = SubprocessExecutor().run(run, RunHandle())
    assert (result.exit_code, result.phase) == (7, "exit")  # the engine's exit code is the task's
    seen = json.loads((tmp_path / "bin" / "docker.json").read_text())
    assert seen == {"argv": ["run", "--rm", "--network", "host", "-v", f"{node}:{node}", "-w", str(task_dir / "wd"),
                             "-e", "AZ_BATCH_NODE_ROOT_DIR", "-e", "AZ_BATCH_TASK_ID", "-e", "PATH",
                             "--entrypoint=", "myreg.azurecr.io/sim:2", "/bin/sh", "-c", "python sim.py > out.txt"],
                    "task_id": "t1"}


def test_without_an_engine_a_container_task_fails_to_start_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(executor_module, "machine_engine",
                        lambda: EngineProbe(None, ("docker info: Cannot connect to the Docker daemon",)))
    run = TaskRun("task", "/bin/sh -c true", tmp_path / "t", {}, container={"imageName": "python:3.12-slim"})
    result = SubprocessExecutor().run(run, RunHandle())
    assert result.phase == "preprocessing" and result.failure["code"] == "ContainerEngineUnavailable"
    assert "docker info: Cannot connect to the Docker daemon" in result.failure["message"]
