"""More things going wrong: task processes killed mid-run, and the storage service stopping during sync."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid

import pytest
from click.testing import CliRunner

from bigcompute.cli.main import cli
from bigcompute.local import azurite as az
from bigcompute.runner.clients import connect
from bigcompute.runner.target import Target
from bigcompute.workload.wire import CHECKSUMS_PATH
from tests.conftest import start_azurite
from tests.runner.cli_process import CliProcess, run_cli_process
from tests.runner.conftest import write_local_files, write_workload

pytestmark = pytest.mark.slow  # own Azurite processes, stopped and started again


def test_killed_task_processes_are_retried_then_reported(repo, local_files, clients):
    name = f"killed-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, """\
        tasks:
          - id: victim
            command: echo "about to be killed" >&2; kill -9 $$
            settings: {retries: 2}
        """)
    result = CliRunner().invoke(cli, ["apply", "--stack", "test", "--wait", "--poll-interval", "0.2"],
                                catch_exceptions=False)
    assert result.exit_code == 1
    assert "task victim: exit code 137" in result.output and "about to be killed" in result.output
    [job] = [j for j in clients.batch.list_jobs() if j.id.startswith(f"{name}-")]
    info = clients.batch.get_task(job.id, "victim").execution_info
    assert info.retry_count == 2 and info.exit_code == 137


def test_storage_stopping_during_sync_then_next_apply_uploads_only_what_is_missing(repo, emulator, tmp_path_factory,
                                                                                instant_target):
    location, port = tmp_path_factory.mktemp("azurite-chaos"), az.free_port()
    storage = start_azurite(location, port)
    try:
        target = Target(**{**instant_target.__dict__, "blob_endpoint": az.blob_endpoint(port)})
        service = connect(target).blob
        for name in target.containers.values():
            service.create_container(name)
        write_local_files(repo, target)
        (repo / "workloads" / "data").mkdir()
        files = 300
        for i in range(files):
            (repo / "workloads" / "data" / f"f{i:03d}.bin").write_bytes(os.urandom(64 * 1024))
        name = f"sync-{uuid.uuid4().hex[:6]}"
        write_workload(repo, name, "inputs: [data/*.bin]\ntasks:\n  - {id: a, command: exit 0}\n")
        inputs = service.get_container_client(target.containers["inputs"])
        cmd = ["apply", "--stack", "test"]
        apply = CliProcess(cmd, repo)  # its own process and session, forked from one that imported the CLI
        deadline = time.monotonic() + 60
        while len(list(inputs.list_blobs(name_starts_with=f"{name}/"))) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(storage.pid, signal.SIGTERM)  # storage stops mid-sync ...
        storage.wait()
        apply.kill()  # ... and that apply gives up (here: is killed)
        apply.wait()
        storage = start_azurite(location, port)  # storage comes back with what it had committed
        present = len(list(inputs.list_blobs(name_starts_with=f"{name}/")))
        assert 0 < present < files

        again = run_cli_process(cmd, repo, timeout=300)
        assert again.returncode == 0, again.stderr
        uploaded = int(re.search(r"uploading (\d+) input files", again.stderr).group(1))
        assert uploaded == files - present
        names = [b.name for b in inputs.list_blobs(name_starts_with=f"{name}/")]
        # Every input, plus the checksum list the tasks verify them against (uploaded after the inputs).
        assert len(names) == files + 1 and sum(n.endswith(CHECKSUMS_PATH) for n in names) == 1
    finally:
        os.killpg(storage.pid, signal.SIGTERM)
        storage.wait()


def _stopped_storage(repo, instant_target, tmp_path_factory) -> Target:
    """The local target with its own Azurite, which then stops: the emulator still answers, storage does not."""
    location, port = tmp_path_factory.mktemp("azurite-down"), az.free_port()
    storage = start_azurite(location, port)
    os.killpg(storage.pid, signal.SIGTERM)
    storage.wait()
    target = Target(**{**instant_target.__dict__, "blob_endpoint": az.blob_endpoint(port)})
    write_local_files(repo, target)
    return target


def test_runner_commands_say_in_one_line_that_storage_is_down(repo, instant_target, tmp_path_factory):
    target = _stopped_storage(repo, instant_target, tmp_path_factory)
    write_workload(repo, f"down-{uuid.uuid4().hex[:6]}", "tasks:\n  - {id: a, command: exit 0}\n")
    port = target.blob_endpoint.split(":")[-1].split("/")[0]
    for command in (["apply", "--stack", "test", "--wait"], ["plan", "--stack", "test"], ["status", "--stack", "test"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 4, result.output  # the target's own exit code, not "tasks failed"
        assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
        assert result.output.strip().splitlines()[-1].endswith(
            f"storage at http://127.0.0.1:{port} is not reachable: run `bigcompute local up`"), result.output


def test_storage_stopping_mid_command_ends_in_one_line_not_a_traceback(repo, instant_target, tmp_path_factory,
                                                                     capsys):
    """Once the SDK's retries are spent, the connection error becomes the same sentence (exit 4)."""
    from bigcompute.cli.app import App
    from bigcompute.runner.api import translated
    from bigcompute.runner.clients import RetrySettings

    target = _stopped_storage(repo, instant_target, tmp_path_factory)
    clients = connect(target, RetrySettings(total=1, backoff_factor=0.01))
    port = target.blob_endpoint.split(":")[-1].split("/")[0]
    try:
        def body(app: App) -> int:
            with translated():  # what every runner command does with the SDK's errors
                return len(list(clients.container("inputs").list_blobs()))
        code = App().guarded(body)
    finally:
        clients.close()
    assert code == 4
    err = capsys.readouterr().err
    assert f"storage at http://127.0.0.1:{port} is not reachable: run `bigcompute local up`" in err
    assert "Traceback" not in err
