"""Resource files from Azurite and output files uploaded to it by pattern and upload condition."""

from __future__ import annotations

import pytest
from azure.batch import models as m

from bigcompute.local.testing import make_job, make_pool, unique, wait_task

IDENTITY = m.BatchNodeIdentityReference(
    resource_id="/subscriptions/x/resourceGroups/local/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id")


@pytest.fixture(scope="module")
def pool(process_emulator) -> str:
    return make_pool(process_emulator.client(), nodes=1, slots=2)


@pytest.fixture
def container(azurite):
    name = unique("c")
    client = azurite.service().create_container(name)
    yield client
    client.delete_container()


def test_resource_files_from_container_http_and_auto_storage(azurite, process_batch, pool, container) -> None:
    container.upload_blob("inputs/a.txt", b"A")
    container.upload_blob("inputs/deep/b.txt", b"B")
    container.upload_blob("other/c.txt", b"C")
    url = f"{azurite.blob_endpoint}/{container.container_name}"
    files = [
        m.ResourceFile(storage_container_url=url, blob_prefix="inputs/", file_path="data", identity_reference=IDENTITY),
        m.ResourceFile(http_url=f"{url}/other/c.txt", file_path="c.txt", file_mode="0600"),
        m.ResourceFile(auto_storage_container_name=container.container_name, blob_prefix="other/"),
    ]
    job_id = make_job(process_batch, pool)
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(
        id="t", command_line="/bin/sh -c 'cat data/inputs/a.txt data/inputs/deep/b.txt c.txt other/c.txt; stat -c %a c.txt'",
        resource_files=files))
    assert wait_task(process_batch, job_id, "t").execution_info.exit_code == 0
    assert b"".join(process_batch.download_task_file(job_id, "t", "stdout.txt")) == b"ABCC600\n"


def test_missing_resource_is_a_preprocessing_failure(process_batch, pool) -> None:
    job_id = make_job(process_batch, pool)
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(
        id="t", command_line="/bin/true",
        resource_files=[m.ResourceFile(http_url="http://127.0.0.1:9/nothing", file_path="x")],
        constraints=m.BatchTaskConstraints(max_task_retry_count=3)))
    info = wait_task(process_batch, job_id, "t", timeout=20).execution_info
    assert info.result == "failure" and info.failure_info.code == "ResourceFileDownloadError"
    assert info.retry_count == 0  # preprocessing errors are not retried


def _output(url: str, pattern: str, path: str, condition: str) -> m.OutputFile:
    return m.OutputFile(
        file_pattern=pattern,
        destination=m.OutputFileDestination(container=m.OutputFileBlobContainerDestination(
            container_url=url, path=path, identity_reference=IDENTITY,
            upload_headers=[m.OutputFileUploadHeader(name="Content-Type", value="text/plain")])),
        upload_options=m.OutputFileUploadConfiguration(upload_condition=condition))


@pytest.mark.parametrize("exit_code", [0, 1])
def test_output_upload_conditions(azurite, process_batch, pool, container, exit_code) -> None:
    url = f"{azurite.blob_endpoint}/{container.container_name}"
    outputs = [
        _output(url, "out/*.csv", "always", "taskcompletion"),
        _output(url, "out/a.csv", "ok/a.csv", "tasksuccess"),
        _output(url, "../std*.txt", "failed", "taskfailure"),
    ]
    job_id = make_job(process_batch, pool)
    script = f"mkdir -p out/.hidden; echo 1 > out/a.csv; echo 2 > out/b.csv; echo h > out/.h.csv; exit {exit_code}"
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line=f"/bin/sh -c '{script}'",
                                                               output_files=outputs))
    wait_task(process_batch, job_id, "t")
    names = sorted(b.name for b in container.list_blobs())
    expected = ["always/a.csv", "always/b.csv"]
    expected += ["ok/a.csv"] if exit_code == 0 else ["failed/stderr.txt", "failed/stdout.txt"]
    assert names == sorted(expected)
    props = container.get_blob_client("always/a.csv").get_blob_properties()
    assert props.content_settings.content_type == "text/plain"
