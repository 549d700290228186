"""What Azure Batch rejects, the emulator rejects, with Batch's published status and code: a pool without a
virtual machine configuration, $filter on a property the list cannot filter, a task id taken by the job's
preparation or release task, unknown api-versions; and the published codes for enable-autoscale spacing,
reactivating a succeeded task and the prep/release status of a job without a preparation task."""

from __future__ import annotations

import datetime as dt

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.batch.models import CreateTasksError
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError

from bigcompute.emulator import BatchState, EmulatorServer, InstantExecutor
from bigcompute.emulator.wire import versions
from bigcompute.local.testing import LOCAL_VM, make_job, make_pool, signed, unique, wait_task
from tests.conftest import new_key


def _error(call) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as info:
        call()
    return info.value


# --- pools --------------------------------------------------------------------------------------------------
def test_a_pool_without_a_virtual_machine_configuration_is_refused(batch) -> None:
    pool_id = unique("pool")
    err = _error(lambda: batch.create_pool(m.BatchPoolCreateOptions(id=pool_id, vm_size="standard_d2s_v3")))
    assert (err.status_code, err.error.code) == (400, "MissingRequiredProperty")
    assert {d.code: d.message for d in err.error.details}["PropertyName"] == "virtualMachineConfiguration"
    assert pool_id not in {p.id for p in batch.list_pools()}


def test_a_virtual_machine_configuration_needs_an_image_and_a_node_agent(batch) -> None:
    vm = m.VirtualMachineConfiguration(image_reference=LOCAL_VM.image_reference, node_agent_sku_id="")
    err = _error(lambda: batch.create_pool(m.BatchPoolCreateOptions(
        id=unique("pool"), vm_size="standard_d2s_v3", virtual_machine_configuration=vm)))
    assert (err.status_code, err.error.code) == (400, "MissingRequiredProperty")
    assert {d.code: d.message for d in err.error.details}["PropertyName"] == \
        "virtualMachineConfiguration.nodeAgentSKUId"


def test_a_pool_read_carries_its_virtual_machine_configuration(batch) -> None:
    pool = batch.get_pool(make_pool(batch, nodes=0))
    assert pool.virtual_machine_configuration.node_agent_sku_id == LOCAL_VM.node_agent_sku_id
    assert pool.virtual_machine_configuration.image_reference.offer == LOCAL_VM.image_reference.offer


# --- $filter ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("what, where", [
    ("pools", "displayName eq 'x'"), ("jobs", "poolInfo/poolId eq 'x'"), ("tasks", "commandLine eq 'x'"),
    ("tasks", "state ne 'active'"),  # state takes eq only
])
def test_filter_on_what_the_list_cannot_filter_is_400(batch, what, where) -> None:
    pool_id = make_pool(batch, nodes=0)
    job_id = make_job(batch, pool_id)
    lister = {"pools": lambda: list(batch.list_pools(filter=where)),
              "jobs": lambda: list(batch.list_jobs(filter=where)),
              "tasks": lambda: list(batch.list_tasks(job_id, filter=where))}[what]
    err = _error(lister)
    assert (err.status_code, err.error.code) == (400, "InvalidQueryParameterValue")
    assert {d.code: d.message for d in err.error.details}["QueryParameterName"] == "$filter"


def test_filter_on_the_documented_properties_still_works(batch) -> None:
    pool_id = make_pool(batch, nodes=1)
    job_id = make_job(batch, pool_id)
    batch.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/bin/sh -c 'exit 3'"))
    wait_task(batch, job_id, "t")
    assert [j.id for j in batch.list_jobs(filter=f"executionInfo/poolId eq '{pool_id}'")] == [job_id]
    assert [t.id for t in batch.list_tasks(job_id, filter="executionInfo/result eq 'failure' and "
                                                          "executionInfo/exitCode ge 3")] == ["t"]
    assert [p.id for p in batch.list_pools(filter=f"id eq '{pool_id}' and enableAutoScale eq false")] == [pool_id]


# --- tasks --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, code", [("preparation", "TaskIdSameAsJobPreparationTask"),
                                        ("release", "TaskIdSameAsJobReleaseTask")])
def test_a_task_cannot_take_the_id_of_the_jobs_prep_or_release_task(batch, kind, code) -> None:
    prep = m.BatchJobPreparationTask(id="stage", command_line="/bin/true")
    release = m.BatchJobReleaseTask(id="cleanup", command_line="/bin/true")
    job_id = make_job(batch, make_pool(batch, nodes=0), job_preparation_task=prep, job_release_task=release)
    taken = "stage" if kind == "preparation" else "cleanup"
    err = _error(lambda: batch.create_task(job_id, m.BatchTaskCreateOptions(id=taken, command_line="/bin/true")))
    assert (err.status_code, err.error.code) == (409, code)
    # In a collection the one task is refused (ids are case-insensitive) and the others are added.
    with pytest.raises(CreateTasksError) as info:
        batch.create_tasks(job_id, [m.BatchTaskCreateOptions(id=taken.upper(), command_line="/bin/true"),
                                    m.BatchTaskCreateOptions(id="fine", command_line="/bin/true")])
    assert code in str(info.value)
    assert batch.get_task(job_id, "fine").id == "fine"
    # The default ids, when the tasks name none, are Batch's own.
    job_id = make_job(batch, make_pool(batch, nodes=0), job_preparation_task=m.BatchJobPreparationTask(
        command_line="/bin/true"))
    err = _error(lambda: batch.create_task(job_id, m.BatchTaskCreateOptions(id="jobpreparation",
                                                                           command_line="/bin/true")))
    assert err.error.code == "TaskIdSameAsJobPreparationTask"


def test_reactivating_a_succeeded_task_is_task_succeeded(batch) -> None:
    job_id = make_job(batch, make_pool(batch, nodes=1))
    batch.create_task(job_id, m.BatchTaskCreateOptions(id="ok", command_line="/bin/true"))
    wait_task(batch, job_id, "ok")
    err = _error(lambda: batch.reactivate_task(job_id, "ok"))
    assert (err.status_code, err.error.code) == (409, "TaskSucceeded")


def test_prep_release_status_of_a_job_without_a_prep_task_is_409(batch) -> None:
    job_id = make_job(batch, make_pool(batch, nodes=0))
    err = _error(lambda: list(batch.list_job_preparation_and_release_task_status(job_id)))
    assert (err.status_code, err.error.code) == (409, "JobPreparationTaskNotSpecified")


# --- autoscale ----------------------------------------------------------------------------------------------
def test_enabling_autoscale_again_within_30_s_is_503_too_many_requests(tmp_path) -> None:
    """Batch's 503 TooManyEnableAutoScaleRequests, which SDKs retry (a 409 they would not). A private emulator
    at --time-scale 10: the 30 s spacing is 3 s, longer than two requests take, shorter than the SDK's retries."""
    state = BatchState(account="a", data_dir=tmp_path, executor=InstantExecutor(), time_scale=10.0)
    key = new_key()
    with EmulatorServer(state, key) as emu:
        def client(**kw) -> BatchClient:
            return BatchClient(emu.url, AzureNamedKeyCredential("a", key), **kw)
        pool_id = unique("pool")
        client().create_pool(m.BatchPoolCreateOptions(
            id=pool_id, vm_size="standard_d2s_v3", virtual_machine_configuration=LOCAL_VM, enable_auto_scale=True,
            auto_scale_formula="$TargetDedicatedNodes = 0;", auto_scale_evaluation_interval=dt.timedelta(minutes=5)))
        options = m.BatchPoolEnableAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes = 1;")
        client().enable_pool_auto_scale(pool_id, options)
        err = _error(lambda: client(retry_total=0).enable_pool_auto_scale(pool_id, options))
        assert (err.status_code, err.error.code) == (503, "TooManyEnableAutoScaleRequests")
        # The SDK's own retry policy backs off and gets through once the spacing has passed.
        client(retry_backoff_factor=1.0).enable_pool_auto_scale(pool_id, options)
        assert client().get_pool(pool_id).auto_scale_formula == "$TargetDedicatedNodes = 1;"


# --- api-version --------------------------------------------------------------------------------------------
def test_the_ga_versions_from_2022_to_2025_are_accepted(emulator) -> None:
    assert versions.SUPPORTED[0] == "2022-01-01.15.0" and versions.SUPPORTED[-1] == "2025-06-01"
    assert {"2023-05-01.17.0", "2023-11-01.18.0"} <= set(versions.SUPPORTED)
    for version in versions.SUPPORTED:
        resp = signed(emulator, "GET", "/pools", f"api-version={version}")
        assert resp.status_code == 200, (version, resp.text)


@pytest.mark.parametrize("version", ["2021-06-01.14.0", "2024-07-01.20.0-preview", "2026-10-01", "latest"])
def test_an_unknown_version_is_unsupported_request_version(emulator, version) -> None:
    client = BatchClient(emulator.url, AzureNamedKeyCredential(emulator.account, emulator.key), retry_total=0,
                         api_version=version)
    err = _error(lambda: list(client.list_pools()))
    assert (err.status_code, err.error.code) == (400, "UnsupportedRequestVersion")
