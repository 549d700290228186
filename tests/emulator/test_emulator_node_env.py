"""What a task sees from inside, as on a Batch node: every AZ_BATCH_* folder absolute and existing in Batch's
layout, a job preparation task staging a file in the node's shared folder for the job's tasks, and a clean
PATH whose python3 is the node's (what the start task installed), not the project's virtualenv."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from azure.batch import models as m

from bigcompute.local.testing import make_job, make_pool, wait_task

# Prints every AZ_BATCH_* variable that names a folder, whether it is absolute and exists, as JSON.
_PROBE = ("import json, os; print(json.dumps({k: [v, os.path.isabs(v), os.path.isdir(v)] for k, v in "
          "os.environ.items() if k.startswith('AZ_BATCH_') and k.endswith('_DIR')}))")


@pytest.fixture(scope="module")
def pool(process_emulator) -> str:
    return make_pool(process_emulator.client(), nodes=1, slots=2)


def _stdout(batch, job_id: str, task_id: str) -> str:
    return b"".join(batch.download_task_file(job_id, task_id, "stdout.txt")).decode()


def test_every_batch_folder_is_absolute_and_exists(process_batch, pool) -> None:
    prep = m.BatchJobPreparationTask(command_line=f'python3 -c "{_PROBE}"')
    job_id = make_job(process_batch, pool, job_preparation_task=prep)
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="probe", command_line=f'python3 -c "{_PROBE}"'))
    task = wait_task(process_batch, job_id, "probe")
    assert task.execution_info.exit_code == 0, _stdout(process_batch, job_id, "probe")
    dirs = json.loads(_stdout(process_batch, job_id, "probe"))
    expected = {"AZ_BATCH_NODE_ROOT_DIR", "AZ_BATCH_NODE_SHARED_DIR", "AZ_BATCH_NODE_STARTUP_DIR",
                "AZ_BATCH_NODE_MOUNTS_DIR", "AZ_BATCH_TASK_DIR", "AZ_BATCH_TASK_WORKING_DIR",
                "AZ_BATCH_CERTIFICATES_DIR", "AZ_BATCH_JOB_PREP_DIR", "AZ_BATCH_JOB_PREP_WORKING_DIR"}
    assert expected <= dirs.keys()
    for name, (path, absolute, exists) in dirs.items():
        assert absolute and exists, f"{name}={path}: absolute {absolute}, exists {exists}"
    root = dirs["AZ_BATCH_NODE_ROOT_DIR"][0]
    # Batch's layout: workitems/<job>/job-1/<task>, and the prep task's folder beside the job's tasks.
    assert dirs["AZ_BATCH_TASK_WORKING_DIR"][0] == f"{root}/workitems/{job_id}/job-1/probe/wd"
    assert dirs["AZ_BATCH_JOB_PREP_DIR"][0] == f"{root}/workitems/{job_id}/job-1/jobpreparation"
    assert dirs["AZ_BATCH_CERTIFICATES_DIR"][0] == f"{root}/workitems/{job_id}/job-1/probe/certs"
    # The prep task saw absolute, existing folders too: its stdout, read from the node where its status says.
    [status] = process_batch.list_job_preparation_and_release_task_status(job_id)
    info = status.job_preparation_task_execution_info
    assert info.exit_code == 0 and status.node_url.endswith(f"/pools/{pool}/nodes/{status.node_id}")
    assert info.task_root_directory_url == f"{status.node_url}/files/{info.task_root_directory}"
    prep_dirs = json.loads(b"".join(process_batch.download_node_file(
        pool, status.node_id, f"{info.task_root_directory}/stdout.txt")).decode())
    assert prep_dirs and all(absolute and exists for _, absolute, exists in prep_dirs.values()), prep_dirs
    assert "AZ_BATCH_JOB_PREP_DIR" not in prep_dirs  # not set for the prep task itself, as on Batch


def test_prep_task_stages_a_file_the_jobs_tasks_read(process_batch, pool) -> None:
    prep = m.BatchJobPreparationTask(
        command_line="/bin/sh -c 'mkdir -p $AZ_BATCH_NODE_SHARED_DIR/inputs && "
                     "echo staged-once > $AZ_BATCH_NODE_SHARED_DIR/inputs/data.txt'")
    job_id = make_job(process_batch, pool, job_preparation_task=prep)
    process_batch.create_tasks(job_id, [m.BatchTaskCreateOptions(
        id=f"read{i}", command_line="/bin/sh -c 'cat $AZ_BATCH_NODE_SHARED_DIR/inputs/data.txt'") for i in range(3)])
    for i in range(3):
        task = wait_task(process_batch, job_id, f"read{i}")
        assert task.execution_info.exit_code == 0
        assert _stdout(process_batch, job_id, f"read{i}") == "staged-once\n"


def test_tasks_do_not_see_the_projects_virtualenv(process_batch, pool) -> None:
    venv_bin = os.path.dirname(sys.executable)
    script = ("import json, os, sys, importlib.util as u; print(json.dumps({'path': os.environ['PATH'], "
              "'exe': sys.executable, 'prefix': sys.prefix, 'batch': u.find_spec('azure') is not None, "
              "'bigcompute': u.find_spec('bigcompute') is not None, 'numpy': u.find_spec('numpy') is not None}))")
    job_id = make_job(process_batch, pool)
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="env", command_line=f'python3 -c "{script}"'))
    task = wait_task(process_batch, job_id, "env")
    assert task.execution_info.exit_code == 0
    seen = json.loads(_stdout(process_batch, job_id, "env"))
    assert venv_bin not in seen["path"].split(os.pathsep)
    assert not seen["batch"] and not seen["bigcompute"], "the project's packages are importable from a task"
    assert Path(seen["prefix"]).resolve() != Path(sys.prefix).resolve()
    # What the stacks' start tasks install (python3-numpy) is there, as on a pool's node.
    assert seen["numpy"]


