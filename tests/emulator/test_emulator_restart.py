"""Restart recovery: kill -9 the service process while a task runs; after a restart on the same data the
pools, jobs and tasks are all there, and the running task is requeued (requeueCount 1) and runs again."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential

from bigcompute.local import azurite as az
from bigcompute.local.testing import make_job, make_pool, wait_for, wait_task

ACCOUNT = "restartacct"


def _spawn(data: Path, port: int, key: str, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BIGCOMPUTE_EMULATOR_KEY": key}
    proc = subprocess.Popen([sys.executable, "-m", "bigcompute.emulator", "--data-dir", str(data), "--port", str(port),
                             "--account", ACCOUNT, "--transitions", "instant"], env=env, start_new_session=True, cwd=cwd)
    try:
        az.wait_port(port, proc=proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc


def test_kill_and_restart_requeues_running_tasks(tmp_path: Path) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    port = az.free_port()
    client = BatchClient(f"http://127.0.0.1:{port}", AzureNamedKeyCredential(ACCOUNT, key), retry_total=0)
    marker = tmp_path / "first-run"
    # First run: leaves a marker and hangs; the run after the restart sees the marker and succeeds.
    script = f"test -f {marker} && exit 0; touch {marker}; sleep 60"
    proc = _spawn(tmp_path / "data", port, key)
    try:
        pool_id = make_pool(client, nodes=1, slots=2)
        job_id = make_job(client, pool_id)
        client.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line=f"/bin/sh -c '{script}'"))
        client.create_task(job_id, m.BatchTaskCreateOptions(id="done", command_line="/bin/true"))
        wait_task(client, job_id, "done")
        wait_for(lambda: marker.exists() and client.get_task(job_id, "t").state == "running")
        proc.kill()
        proc.wait()
        proc = _spawn(tmp_path / "data", port, key)
        task = wait_task(client, job_id, "t", timeout=15)
        info = task.execution_info
        assert (info.requeue_count, info.retry_count, info.exit_code) == (1, 0, 0)
        assert info.last_requeue_time is not None
        assert client.get_task(job_id, "done").execution_info.requeue_count == 0
        assert client.get_pool(pool_id).current_dedicated_nodes == 1
        # The orphaned `sleep 60` of the first run was ended when the service came back.
        orphans = subprocess.run(["pgrep", "-f", f"touch {marker}"], capture_output=True, text=True).stdout.split()
        assert orphans == []
    finally:
        proc.kill()
        proc.wait()


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_restarting_one_emulator_leaves_another_checkouts_tasks_running(tmp_path: Path) -> None:
    # Two checkouts, each with its emulator started as `local up` does: the same relative data dir from a
    # different working directory. Restarting one must end its own orphan only.
    key = base64.b64encode(os.urandom(32)).decode()
    data = Path(".bigcompute/local/emulator")
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        port = az.free_port()
        client = BatchClient(f"http://127.0.0.1:{port}", AzureNamedKeyCredential(ACCOUNT, key), retry_total=0)
        runs.append((tmp_path / name, port, client, _spawn(data, port, key, cwd=tmp_path / name)))
    procs = [r[3] for r in runs]
    try:
        jobs, pids = [], []
        for checkout, _, client, _ in runs:
            job_id = make_job(client, make_pool(client, nodes=1))
            pidfile = checkout / "task.pid"
            client.create_task(job_id, m.BatchTaskCreateOptions(
                id="t", command_line=f"/bin/sh -c 'echo $$ > {pidfile}.new && mv {pidfile}.new {pidfile}; exec sleep 60'"))
            wait_for(lambda c=client, j=job_id: c.get_task(j, "t").state == "running")
            pids.append(int(wait_for(lambda f=pidfile: f.exists() and f.read_text())))
            jobs.append(job_id)
        (a_dir, a_port, a_client, a_proc), (_, _, b_client, _) = runs
        a_proc.kill()
        a_proc.wait()
        procs[0] = _spawn(data, a_port, key, cwd=a_dir)
        wait_for(lambda: not _alive(pids[0]))  # a's orphan was ended by a's restart...
        assert a_client.get_task(jobs[0], "t").execution_info.requeue_count == 1
        time.sleep(0.5)
        assert _alive(pids[1])  # ...and b's task process was left alone, its task still running
        task = b_client.get_task(jobs[1], "t")
        assert task.state == "running" and task.execution_info.requeue_count == 0
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
