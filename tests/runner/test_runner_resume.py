"""A killed apply (kill -9 at any moment) re-run converges: the same job, every task once, nothing lost."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid

import pytest

from bigcompute.runner.jobs import job_info
from tests.runner.conftest import write_local_files, write_workload

TASKS = 3000


def apply_cmd(name: str) -> list[str]:
    return [sys.executable, "-m", "bigcompute", "apply", f"workloads/{name}.yaml", "--stack", "test", "--wait",
            "--poll-interval", "0.2", "--download", "out"]


def run_to_end(repo, name: str) -> subprocess.CompletedProcess:
    return subprocess.run(apply_cmd(name), cwd=repo, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_kill_minus_nine_then_rerun_converges(repo, instant_target, clients_for, seed):
    write_local_files(repo, instant_target)
    (repo / "workloads" / "data").mkdir()
    for i in range(40):
        (repo / "workloads" / "data" / f"f{i:02d}.txt").write_text(f"{i}\n" * 2000)
    name = f"resume-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, f"""\
        inputs: [data/*.txt]
        tasks:
          - id: '{{i}}'
            command: exit 0
            sweep: {{i: {{start: 0, stop: {TASKS}}}}}
        merge: {{command: exit 0}}
        """)
    delay = random.Random(seed).uniform(0.5, 4.0)
    proc = subprocess.Popen(apply_cmd(name), cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    done = run_to_end(repo, name)
    assert done.returncode == 0, done.stderr
    clients = clients_for(instant_target)
    [job] = [j for j in clients.batch.list_jobs() if j.id.startswith(f"{name}-")]
    info = job_info(job)
    assert info.submitted and info.state == "completed"
    ids = [t.id for t in clients.batch.list_tasks(job.id, select=["id"], max_results=1000)]
    assert len(ids) == len(set(ids)) == TASKS + 1
    assert set(ids) == {str(i) for i in range(TASKS)} | {"merge"}
    blobs = list(clients.container("inputs").list_blobs(name_starts_with=f"{name}/"))
    assert len(blobs) == 40
    manifest = json.loads((repo / "out" / name / "manifest.json").read_text())
    assert manifest["job"] == job.id  # instant tasks upload nothing; outputs are checked in test_runner_cli
