"""Requests Batch refuses and the emulator must refuse the same way, never with a 500 or by acting on them:
ids outside Batch's rules, text no process can carry, resource files that are not web URLs, oversized bodies."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from bigcompute.emulator.compute import storage
from bigcompute.local import azurite as az
from bigcompute.local.testing import make_job, make_pool, signed, wait_for
from tests.conftest import ACCOUNT, new_key

Q = "api-version=2025-06-01"


@pytest.fixture(scope="module")
def pool(emulator) -> str:
    return make_pool(emulator.client())


def _refused(call, code: str = "InvalidPropertyValue", prop: str | None = None) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as info:
        call()
    err = info.value
    assert (err.status_code, err.error.code) == (400, code), str(err)
    if prop is not None:
        assert dict((d.code, d.message) for d in err.error.details)["PropertyName"] == prop
    return err


# --- ids (issue 13, Low 13) -------------------------------------------------------------------------------
BAD_IDS = ["job1\n", "job1\r\n", "\njob1", "job\x00", "job 1", "jób", "a" * 65, "job1\t"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_ids_outside_batch_rules_are_refused(batch, pool, bad) -> None:
    _refused(lambda: batch.create_job(m.BatchJobCreateOptions(id=bad, pool_info=m.BatchPoolInfo(pool_id=pool))))
    _refused(lambda: batch.create_pool(m.BatchPoolCreateOptions(id=bad, vm_size="standard_d2s_v3")))
    job_id = make_job(batch, pool)
    _refused(lambda: batch.create_task(job_id, m.BatchTaskCreateOptions(id=bad, command_line="/bin/true")))
    group = m.BatchTaskGroup(task_values=[m.BatchTaskCreateOptions(id=bad, command_line="/bin/true")])
    if "\x00" in bad:  # no text in the body may hold a NUL: the whole request is refused
        _refused(lambda: batch.create_task_collection(job_id, group), prop="value[0].id")
    else:
        result = batch.create_task_collection(job_id, group)
        assert [(r.status, r.error.code) for r in result.result_values] == [("clienterror", "InvalidPropertyValue")]
    assert [t.id for t in batch.list_tasks(job_id)] == []
    assert bad not in {j.id for j in batch.list_jobs()}


def test_a_newline_id_sent_raw_gets_a_batch_error_not_a_dropped_connection(emulator, pool) -> None:
    body = json.dumps({"id": "job1\n", "poolInfo": {"poolId": pool}}).encode()
    resp = signed(emulator, "POST", "/jobs", Q, body)
    assert resp.status_code == 400 and resp.json()["code"] == "InvalidPropertyValue"


def test_a_newline_job_schedule_id_is_refused(emulator) -> None:
    resp = signed(emulator, "POST", "/jobschedules", Q, json.dumps({"id": "s1\n"}).encode())
    assert resp.status_code == 400 and resp.json()["code"] == "InvalidPropertyValue"


# --- text no process can carry (issue 13, Low 15) ----------------------------------------------------------
@pytest.mark.parametrize(("field", "prop"), [
    ({"command_line": "/bin/echo a\x00b"}, "commandLine"),
    ({"environment_settings": [m.EnvironmentSetting(name="A", value="x\x00y")]}, "environmentSettings[0].value"),
    ({"environment_settings": [m.EnvironmentSetting(name="A\x00", value="x")]}, "environmentSettings[0].name"),
    ({"display_name": "\udc80"}, "displayName"),
])
def test_nul_bytes_and_lone_surrogates_are_refused_with_400(batch, pool, field, prop) -> None:
    job_id = make_job(batch, pool)
    kwargs = {"command_line": "/bin/true", **field}
    _refused(lambda: batch.create_task(job_id, m.BatchTaskCreateOptions(id="t", **kwargs)), prop=prop)
    with pytest.raises(ResourceNotFoundError):
        batch.get_task(job_id, "t")


def test_nul_in_a_job_preparation_command_is_refused(batch, pool) -> None:
    prep = m.BatchJobPreparationTask(command_line="/bin/true\x00; rm -rf /")
    _refused(lambda: make_job(batch, pool, job_preparation_task=prep), prop="jobPreparationTask.commandLine")


@pytest.mark.parametrize("raw", [b'{"id": "t", "commandLine": "/bin/true\\u0000"}', b'{"id": "t", "commandLine": "\\ud800"}',
                                 b'{"id": "t", "commandLine": "\xff"}', b'{"id": "t", ', b'["t"]',
                                 # a surrogate as raw UTF-8 bytes; a UTF-16 body (its \u escape is not ASCII bytes)
                                 '{"id": "t", "commandLine": "\ud800"}'.encode("utf-8", "surrogatepass"),
                                 '{"id": "t", "commandLine": "/bin/true\\u0000"}'.encode("utf-16")])
def test_raw_bodies_that_cannot_be_run_get_400(emulator, pool, raw) -> None:
    job_id = make_job(emulator.client(), pool)
    resp = signed(emulator, "POST", f"/jobs/{job_id}/tasks", Q, raw)
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] in ("InvalidPropertyValue", "InvalidRequestBody")


# --- resource files must be web URLs (issue 13, Low 14) ----------------------------------------------------
@pytest.mark.parametrize("rf", [
    m.ResourceFile(http_url="file:///etc/passwd", file_path="passwd"),
    m.ResourceFile(http_url="FILE:///etc/passwd", file_path="passwd"),
    m.ResourceFile(http_url="/etc/passwd", file_path="passwd"),
    m.ResourceFile(http_url="ftp://127.0.0.1/x", file_path="x"),
    m.ResourceFile(storage_container_url="file:///etc"),
])
def test_resource_files_that_are_not_http_urls_are_refused(batch, pool, rf) -> None:
    job_id = make_job(batch, pool)
    prop = "resourceFiles[0].httpUrl" if rf.http_url else "resourceFiles[0].storageContainerUrl"
    _refused(lambda: batch.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="cat passwd",
                                                                        resource_files=[rf])), prop=prop)
    with pytest.raises(ResourceNotFoundError):
        list(batch.list_task_files(job_id, "t"))
    prep = m.BatchJobPreparationTask(command_line="/bin/true", resource_files=[rf])
    _refused(lambda: make_job(batch, pool, job_preparation_task=prep))


def test_the_node_never_opens_a_file_url_stored_before_the_rule(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="scheme"):
        storage.download_resource_files([{"httpUrl": "file:///etc/passwd", "filePath": "passwd"}], tmp_path, None)
    assert not (tmp_path / "passwd").exists()


# --- request body limits (issue 13, Low 18) ----------------------------------------------------------------
def _collection(n: int, size: int) -> bytes:
    return json.dumps({"value": [{"id": f"t{i}", "commandLine": "x" * size} for i in range(n)]}).encode()


def test_a_2_mb_task_collection_is_refused_with_request_body_too_large(emulator, pool) -> None:
    job_id = make_job(emulator.client(), pool)
    resp = signed(emulator, "POST", f"/jobs/{job_id}/addtaskcollection", Q, _collection(100, 20_000))
    assert len(resp.request.body) > 2_000_000
    assert resp.status_code == 413 and resp.json()["code"] == "RequestBodyTooLarge"
    assert list(emulator.client().list_tasks(job_id)) == []


def test_a_chunked_body_over_the_cap_is_refused(emulator, pool) -> None:
    job_id = make_job(emulator.client(), pool)
    chunks = (_collection(100, 20_000)[i:i + 65536] for i in range(0, 2_100_000, 65536))
    resp = signed(emulator, "POST", f"/jobs/{job_id}/addtaskcollection", Q, chunks)
    assert "content-length" not in {k.lower() for k in resp.request.headers}
    assert resp.status_code == 413 and resp.json()["code"] == "RequestBodyTooLarge"


def test_every_body_is_capped_not_only_collections(emulator, pool) -> None:
    job_id = make_job(emulator.client(), pool)
    body = json.dumps({"id": "t", "commandLine": "x" * 1_100_000}).encode()
    resp = signed(emulator, "POST", f"/jobs/{job_id}/tasks", Q, body)
    assert resp.status_code == 413 and resp.json()["code"] == "RequestBodyTooLarge"


@pytest.fixture
def process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    """The emulator in its own process, so its memory can be read from /proc."""
    key, port = new_key(), az.free_port()
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps({"batchAccountKey": key}))
    key_file.chmod(0o600)
    proc = subprocess.Popen([sys.executable, "-m", "bigcompute.emulator", "--data-dir", str(tmp_path / "data"),
                             "--port", str(port), "--account", ACCOUNT, "--executor", "instant",
                             "--key-file", str(key_file), "--transitions", "instant"], start_new_session=True)
    try:
        az.wait_port(port, proc=proc)
        yield proc, f"http://127.0.0.1:{port}", key
    finally:
        proc.kill()
        proc.wait()


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


class _Zeros:
    """A body of `size` bytes generated as it is sent (requests takes Content-Length from len())."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[bytes]:
        block = b"0" * (1024 * 1024)
        for _ in range(self.size // len(block)):
            yield block


@pytest.mark.parametrize("chunked", [False, True])
def test_a_300_mib_signed_body_never_reaches_memory(process, chunked) -> None:
    proc, url, key = process
    client = BatchClient(url, AzureNamedKeyCredential(ACCOUNT, key), retry_total=0)
    job_id = make_job(client, make_pool(client))
    emu = type("Emu", (), {"url": url, "account": ACCOUNT, "key": key})
    baseline = _rss_mib(proc.pid)
    body = _Zeros(300 * 1024 * 1024)
    headers = {} if chunked else {"content-length": str(len(body))}
    if chunked:
        body = iter(body)
    try:
        resp = signed(emu, "POST", f"/jobs/{job_id}/addtaskcollection", Q, body, headers=headers)
        assert resp.status_code == 413 and resp.json()["code"] == "RequestBodyTooLarge"
    except requests.ConnectionError:
        pass  # refused before it was all sent: the service closed the connection after its 413
    assert _rss_mib(proc.pid) - baseline < 100
    assert proc.poll() is None and wait_for(lambda: client.get_job(job_id).id == job_id)
    assert list(client.list_tasks(job_id)) == []
