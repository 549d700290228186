"""What other clients of the Batch API need, checked with the 15.x SDK and raw signed requests (the 14.x SDK
and az themselves run in `make compat`): the api-version policy, nextLinks that carry the api-version,
PUT job, PATCH pool and updateproperties, and numeric strings for integer properties."""

from __future__ import annotations

import json

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError

from bigcompute.emulator.wire import versions
from bigcompute.local.testing import LOCAL_VM, make_job, make_pool, signed, unique, wait_for


# --- api-version ----------------------------------------------------------------------------------------
def test_supported_versions_are_the_ga_range() -> None:
    assert versions.SUPPORTED == ("2022-01-01.15.0", "2022-10-01.16.0", "2023-05-01.17.0", "2023-11-01.18.0",
                                  "2024-02-01.19.0", "2024-07-01.20.0", "2025-06-01")
    assert versions.api_version("a=1&api-version=2025-06-01&b=2") == "2025-06-01"
    assert versions.api_version("api-version=") is None and versions.api_version("") is None


@pytest.mark.parametrize("version", versions.SUPPORTED)
def test_every_supported_version_is_accepted(emulator, version) -> None:
    client = BatchClient(emulator.url, AzureNamedKeyCredential(emulator.account, emulator.key), retry_total=0,
                         api_version=version)
    assert isinstance(list(client.list_pools()), list)


@pytest.mark.parametrize("version", ["2021-06-01.14.0", "2024-07-01.20.0-preview", "2026-10-01", "latest"])
def test_other_versions_are_refused(emulator, version) -> None:
    client = BatchClient(emulator.url, AzureNamedKeyCredential(emulator.account, emulator.key), retry_total=0,
                         api_version=version)
    with pytest.raises(HttpResponseError) as info:
        list(client.list_pools())
    err = info.value
    assert err.status_code == 400 and err.error.code == "UnsupportedRequestVersion"
    details = {d.code: d.message for d in err.error.details}
    assert (details["QueryParameterName"], details["QueryParameterValue"]) == ("api-version", version)


def test_missing_version_is_refused(emulator) -> None:
    resp = signed(emulator, "GET", "/pools", "")
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == "MissingRequiredQueryParameter"
    assert {"key": "QueryParameterName", "value": "api-version"} in body["values"]
    assert resp.headers["request-id"] in body["message"]["value"]


def test_next_link_carries_the_request_api_version(emulator, batch) -> None:
    """The 14.x SDK and az follow odata.nextLink verbatim, so the link must hold the api-version."""
    pool_id = make_pool(batch, nodes=0)
    job_id = make_job(batch, pool_id)
    batch.create_tasks(job_id, [m.BatchTaskCreateOptions(id=f"t{i}", command_line="/bin/true") for i in range(3)])
    resp = signed(emulator, "GET", f"/jobs/{job_id}/tasks", "api-version=2024-02-01.19.0&maxresults=2")
    link = resp.json()["odata.nextLink"]
    assert "api-version=2024-02-01.19.0" in link
    path, _, query = link.removeprefix(emulator.url).partition("?")
    page2 = signed(emulator, "GET", path, query)
    assert page2.status_code == 200 and len(page2.json()["value"]) == 1


# --- endpoints the 14.x SDK and az use ---------------------------------------------------------------
def test_replace_job_resets_what_is_left_out(batch) -> None:
    pool_id = make_pool(batch, nodes=0)
    job_id = make_job(batch, pool_id, priority=5, max_parallel_tasks=2,
                      metadata=[m.BatchMetadataItem(name="k", value="v")])
    batch.replace_job(job_id, m.BatchJob(pool_info=m.BatchPoolInfo(pool_id=pool_id), priority=7))
    job = batch.get_job(job_id)
    assert (job.priority, job.max_parallel_tasks, job.metadata) == (7, -1, None)


def test_update_pool_and_replace_pool_properties(batch) -> None:
    pool_id = make_pool(batch, nodes=1)
    batch.update_pool(pool_id, m.BatchPoolUpdateOptions(
        metadata=[m.BatchMetadataItem(name="a", value="1")], start_task=m.BatchStartTask(command_line="/bin/true")))
    pool = batch.get_pool(pool_id)
    assert [(i.name, i.value) for i in pool.metadata] == [("a", "1")] and pool.start_task.command_line == "/bin/true"
    batch.update_pool(pool_id, m.BatchPoolUpdateOptions(metadata=[m.BatchMetadataItem(name="b", value="2")]))
    pool = batch.get_pool(pool_id)
    assert [i.name for i in pool.metadata] == ["b"] and pool.start_task.command_line == "/bin/true"
    batch.replace_pool_properties(pool_id, m.BatchPoolReplaceOptions(
        application_package_references=[], metadata=[m.BatchMetadataItem(name="c", value="3")]))
    pool = batch.get_pool(pool_id)
    assert [i.name for i in pool.metadata] == ["c"] and pool.start_task is None
    with pytest.raises(HttpResponseError) as info:
        batch.update_pool(pool_id, m.BatchPoolUpdateOptions(vm_size="standard_d4s_v3"))
    assert info.value.error.code == "UnsupportedProperty"


def test_numeric_strings_are_accepted_for_integer_properties(emulator, batch) -> None:
    """The current azure-cli sends CLI numbers as JSON strings (`"targetDedicatedNodes": "1"`)."""
    pool_id = unique("pool")
    body = json.dumps({"id": pool_id, "vmSize": "standard_d2s_v3", "virtualMachineConfiguration": LOCAL_VM.as_dict(),
                       "targetDedicatedNodes": "1",
                       "taskSlotsPerNode": "2"}).encode()
    assert signed(emulator, "POST", "/pools", "api-version=2024-02-01.19.0", body).status_code == 201
    pool = wait_for(lambda: (p := batch.get_pool(pool_id)).allocation_state == "steady" and p)
    assert (pool.target_dedicated_nodes, pool.task_slots_per_node, pool.current_dedicated_nodes) == (1, 2, 1)
    bad = json.dumps({"id": unique("pool"), "vmSize": "x", "taskSlotsPerNode": "two"}).encode()
    resp = signed(emulator, "POST", "/pools", "api-version=2025-06-01", bad)
    assert resp.status_code == 400 and resp.json()["code"] == "InvalidPropertyValue"
