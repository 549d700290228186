"""Who tasks run as (--task-user): a non-elevated task cannot read the target's credentials, by `..` or by
absolute path, and still uploads its outputs; an elevated task runs as the emulator's user; `auto` takes
the unprivileged user only when the probe says it can run the task tools, and says why not otherwise."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential

from bigcompute.emulator.compute import isolation
from bigcompute.emulator.compute.nodes import task_path
from bigcompute.local import azurite as az
from bigcompute.local.testing import make_job, make_pool, unique, wait_for, wait_task
from tests.conftest import new_key

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a task user needs an emulator running as root")
ACCOUNT = "isoacct"


@pytest.fixture
def base() -> Iterator[Path]:
    """A `.bigcompute/local`-like folder: credentials.json (0600) beside the emulator's data dir. Under /tmp
    (which anyone may traverse), not pytest's private tmp_path, so the task user can reach its folders."""
    folder = Path(tempfile.mkdtemp(prefix="bigcompute-iso-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _start(base: Path, task_user: str, blob: str) -> tuple[subprocess.Popen[bytes], BatchClient, dict]:
    key = new_key()
    creds = base / "credentials.json"
    fd = os.open(creds, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"batchAccountKey": key}, f)
    isolation.open_to(base, 65534)  # what `local up` does for the task user's group: pass through only
    port = az.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bigcompute.emulator", "--data-dir", str(base / "emulator"),
                             "--port", str(port), "--account", ACCOUNT, "--key-file", str(creds),
                             "--blob-endpoint", blob, "--task-user", task_user, "--transitions", "instant"],
                            start_new_session=True)
    info_file = base / "emulator" / "emulator.json"
    try:
        az.wait_port(port, proc=proc)
        info = json.loads(wait_for(lambda: info_file.exists() and info_file.read_text()))
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, BatchClient(f"http://127.0.0.1:{port}", AzureNamedKeyCredential(ACCOUNT, key), retry_total=0), info


def _stdout(client: BatchClient, job_id: str, task_id: str) -> str:
    return b"".join(client.download_task_file(job_id, task_id, "stdout.txt")).decode()


def test_forced_task_user_cannot_read_the_key_and_still_uploads(base: Path, azurite) -> None:
    container = unique("out")
    azurite.service().create_container(container)
    proc, client, info = _start(base, "nobody", azurite.blob_endpoint)
    try:
        assert info["taskUser"] == "nobody"
        job_id = make_job(client, make_pool(client, nodes=1))
        creds = base / "credentials.json"
        # The attack: read the key through `..` from the working directory, then by its absolute path.
        script = ('id -u; rel=$(realpath --relative-to=. "$1"); echo "via $rel"; cat "$rel" && echo READ-REL; '
                  'cat "$1" && echo READ-ABS; echo result > out.txt')
        upload = m.OutputFile(file_pattern="out.txt", destination=m.OutputFileDestination(
            container=m.OutputFileBlobContainerDestination(container_url=f"{azurite.blob_endpoint}/{container}")),
            upload_options=m.OutputFileUploadConfiguration(upload_condition="taskcompletion"))
        client.create_task(job_id, m.BatchTaskCreateOptions(
            id="t", command_line=f"/bin/sh -c '{script}' sh {creds}", output_files=[upload]))
        client.create_task(job_id, m.BatchTaskCreateOptions(
            id="admin", command_line="id -u", user_identity=m.UserIdentity(
                auto_user=m.AutoUserSpecification(elevation_level="admin"))))
        task = wait_task(client, job_id, "t")
        out = _stdout(client, job_id, "t")
        assert out.splitlines()[0] == "65534"
        assert "via ../" in out and "READ" not in out, out
        assert json.loads(creds.read_text())["batchAccountKey"] not in out
        assert task.execution_info.exit_code == 0 and task.execution_info.failure_info is None
        blob = azurite.service().get_container_client(container).download_blob("out.txt").readall()
        assert blob == b"result\n"
        wait_task(client, job_id, "admin")
        assert _stdout(client, job_id, "admin") == "0\n"
    finally:
        proc.kill()
        proc.wait()


def test_an_output_linked_to_the_key_is_refused(base: Path, azurite) -> None:
    container = unique("out")
    azurite.service().create_container(container)
    proc, client, _ = _start(base, "nobody", azurite.blob_endpoint)
    try:
        job_id = make_job(client, make_pool(client, nodes=1))
        # The upload reads as the emulator's user: a link to the key must not carry it into storage.
        upload = m.OutputFile(file_pattern="key.json", destination=m.OutputFileDestination(
            container=m.OutputFileBlobContainerDestination(container_url=f"{azurite.blob_endpoint}/{container}")),
            upload_options=m.OutputFileUploadConfiguration(upload_condition="taskcompletion"))
        client.create_task(job_id, m.BatchTaskCreateOptions(
            id="t", command_line=f"ln -s {base / 'credentials.json'} key.json", output_files=[upload]))
        info = wait_task(client, job_id, "t").execution_info
        assert info.failure_info.code == "FileUploadError"
        assert not list(azurite.service().get_container_client(container).list_blobs())
    finally:
        proc.kill()
        proc.wait()


def test_a_retry_does_not_write_through_a_link_the_last_attempt_left(base: Path, azurite) -> None:
    container = unique("in")
    azurite.service().create_container(container)
    azurite.service().get_container_client(container).upload_blob("in.txt", b"input\n")
    victim = base / "victim"  # a folder only root may write to
    victim.mkdir(mode=0o755)
    proc, client, _ = _start(base, "nobody", azurite.blob_endpoint)
    try:
        job_id = make_job(client, make_pool(client, nodes=1))
        # First attempt: swap its working folder for a link to the victim, then fail so the task is retried
        # and the emulator (as root) downloads the resource file again.
        script = f"test -f ../tried && cat in.txt && exit 0; touch ../tried; cd ..; mv wd old; ln -s {victim} wd; exit 3"
        client.create_task(job_id, m.BatchTaskCreateOptions(
            id="t", command_line=f"/bin/sh -c '{script}'", constraints=m.BatchTaskConstraints(max_task_retry_count=1),
            resource_files=[m.ResourceFile(storage_container_url=f"{azurite.blob_endpoint}/{container}")]))
        info = wait_task(client, job_id, "t").execution_info
        assert (info.retry_count, info.exit_code) == (1, 0)
        assert list(victim.iterdir()) == []
        assert _stdout(client, job_id, "t") == "input\n"
    finally:
        proc.kill()
        proc.wait()


def test_inputs_staged_by_job_preparation_reach_the_tasks(base: Path, azurite) -> None:
    # As the runner stages inputs shared by all tasks: a preparation task downloads them once per node (as
    # root, mode 0770), the tasks read them from its folder as the task user, and still upload outputs.
    container, out = unique("in"), unique("out")
    for name in (container, out):
        azurite.service().create_container(name)
    azurite.service().get_container_client(container).upload_blob("in.txt", b"shared\n")
    proc, client, _ = _start(base, "nobody", azurite.blob_endpoint)
    try:
        prep = m.BatchJobPreparationTask(command_line="/bin/true", resource_files=[
            m.ResourceFile(storage_container_url=f"{azurite.blob_endpoint}/{container}")])
        job_id = make_job(client, make_pool(client, nodes=1, slots=2), job_preparation_task=prep)
        upload = m.OutputFile(file_pattern="copy.txt", destination=m.OutputFileDestination(
            container=m.OutputFileBlobContainerDestination(container_url=f"{azurite.blob_endpoint}/{out}")),
            upload_options=m.OutputFileUploadConfiguration(upload_condition="tasksuccess"))
        client.create_tasks(job_id, [m.BatchTaskCreateOptions(
            id=f"t{i}", command_line="/bin/sh -c 'cp $AZ_BATCH_JOB_PREP_WORKING_DIR/in.txt copy.txt'",
            output_files=[upload]) for i in range(2)])
        for i in range(2):
            assert wait_task(client, job_id, f"t{i}").execution_info.exit_code == 0
        assert azurite.service().get_container_client(out).download_blob("copy.txt").readall() == b"shared\n"
    finally:
        proc.kill()
        proc.wait()


def test_auto_takes_the_task_user_only_when_the_probe_passes(base: Path) -> None:
    data = base / "emulator"
    isolation.open_to(base, 65534)
    nobody = isolation.TaskUser("nobody", 65534, 65534)
    problem = isolation.probe(nobody, task_path(), base, isolation.PROBED_TOOLS)
    chosen = isolation.resolve("auto", data, task_path())
    if problem:  # e.g. python3 lives under a folder only root may enter
        assert chosen.user is None and chosen.warning == problem
        assert oct(data.stat().st_mode & 0o777) == "0o700"  # and the data dir closed again
    else:
        assert chosen == isolation.Isolation(nobody, "")
        assert oct(data.stat().st_mode & 0o777) == "0o710" and data.stat().st_gid == 65534
    assert isolation.resolve("none", data, task_path()).user is None
    with pytest.raises(ValueError, match="no user no-such-user"):
        isolation.resolve("no-such-user", data, task_path())
