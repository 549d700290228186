"""kill -9 of `apply` at 20 seeded random moments — during upload, job creation, task submission,
monitoring or download — then a re-run: the final job, task set and downloaded outputs equal those of
an uninterrupted run. Nothing added twice, nothing lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from bigcompute.runner.jobs import job_info
from bigcompute.workload.wire import CHECKSUMS_PATH
from tests.runner.conftest import STACK, write_local_files, write_workload

TASKS, FILES = 60, 10
WORKLOAD = f"""\
    inputs: [data/*.txt]
    tasks:
      - id: '{{i}}'
        command: mkdir -p out && wc -l < data/f$(( {{i}} % {FILES} )).txt > out/lines.txt
        sweep: {{i: {{start: 0, stop: {TASKS}}}}}
        outputs: [out/lines.txt]
    merge:
      command: cat $BIGCOMPUTE_TASK_OUTPUTS/*/lines.txt | awk '{{s+=$1}} END {{print s}}' > total.txt
      outputs: [total.txt]
    """


def make_repo(root: Path, target) -> Path:
    (root / ".git").mkdir(parents=True)
    (root / "stacks").mkdir()
    (root / "stacks" / "Pulumi.test.yaml").write_text(textwrap.dedent(STACK))
    (root / "workloads" / "data").mkdir(parents=True)
    for i in range(FILES):
        (root / "workloads" / "data" / f"f{i}.txt").write_text("x\n" * (i + 1))
    write_local_files(root, target)
    return root


def apply(root: Path, name: str, **kwargs) -> subprocess.Popen | subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "bigcompute", "apply", f"workloads/{name}.yaml", "--stack", "test", "--wait",
           "--poll-interval", "0.2", "--download", "out"]
    if kwargs.pop("background", False):
        return subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    return subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600)


def downloaded(root: Path, name: str) -> dict[str, str]:
    """Every downloaded file by path, the manifest reduced to what does not name the job."""
    folder = root / "out" / name
    files = {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*")
             if p.is_file() and p.name != "manifest.json"}
    import json

    manifest = json.loads((folder / "manifest.json").read_text())
    files["manifest.json"] = json.dumps(manifest["tasks"], sort_keys=True)
    return files


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, local_target):
    root = make_repo(tmp_path_factory.mktemp("baseline"), local_target)
    write_workload(root, "base", WORKLOAD)
    start = time.monotonic()
    done = apply(root, "base")
    assert done.returncode == 0, done.stderr
    return time.monotonic() - start, downloaded(root, "base")


@pytest.mark.parametrize("seed", range(20))
def test_kill_minus_nine_then_rerun_equals_an_uninterrupted_run(tmp_path, local_target, clients_for, baseline,
                                                                seed):
    duration, expected = baseline
    root = make_repo(tmp_path, local_target)
    name = f"base-{uuid.uuid4().hex[:6]}"
    write_workload(root, name, WORKLOAD)
    proc = apply(root, name, background=True)
    time.sleep(random.Random(seed).uniform(0.05, duration))  # anywhere from upload to download
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    done = apply(root, name)
    assert done.returncode == 0, done.stderr
    assert downloaded(root, name) == expected
    clients = clients_for(local_target)
    [job] = [j for j in clients.batch.list_jobs() if j.id.startswith(f"{name}-")]
    info = job_info(job)
    assert info.submitted and info.state == "completed"
    ids = [t.id for t in clients.batch.list_tasks(job.id, select=["id"], max_results=1000)]
    assert len(ids) == len(set(ids)) == TASKS + 1
    names = [b.name for b in clients.container("inputs").list_blobs(name_starts_with=f"{name}/")]
    # Each input once, plus the checksum list the tasks verify them against.
    assert len(names) == FILES + 1 and sum(n.endswith(CHECKSUMS_PATH) for n in names) == 1
