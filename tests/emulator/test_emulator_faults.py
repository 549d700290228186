"""Fault injection: seeded 429/500/503/reset/drop faults, each counted as served; the SDK's own retry policy
gets through them."""

from __future__ import annotations

import pytest
import requests
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential

from bigcompute.emulator import BatchState, EmulatorServer, InstantExecutor
from bigcompute.emulator.wire.faults import FaultPlan
from bigcompute.local.testing import make_job, make_pool, signed, wait_for
from tests.conftest import new_key


def test_fault_spec_is_validated() -> None:
    with pytest.raises(ValueError):
        FaultPlan("418=0.1")
    with pytest.raises(ValueError):
        FaultPlan("429=0.7,503=0.6")


def test_same_seed_same_faults() -> None:
    a, b = FaultPlan("429=0.2,503=0.2,reset=0.1", seed=7), FaultPlan("429=0.2,503=0.2,reset=0.1", seed=7)
    assert [a.draw() for _ in range(50)] == [b.draw() for _ in range(50)]


def test_retry_after_on_429(tmp_path) -> None:
    state = BatchState(account="a", data_dir=tmp_path, executor=InstantExecutor())
    plan = FaultPlan("429=1")
    with EmulatorServer(state, "a2V5", faults=plan) as emu:
        resp = requests.get(f"{emu.url}/jobs", timeout=5)
    assert plan.served() == {"429": 1}
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"
    assert resp.json()["code"] == "TooManyRequests"


def test_served_faults_are_read_through_the_control_endpoint(tmp_path) -> None:
    """Signed like any request, never faulted itself, and counting only what was injected."""
    key = new_key()
    state = BatchState(account="a", data_dir=tmp_path, executor=InstantExecutor())
    with EmulatorServer(state, key, faults=FaultPlan("503=1")) as emu:
        emu.account, emu.key = "a", key
        assert requests.get(f"{emu.url}/_emulator/faults?api-version=2025-06-01", timeout=5).status_code == 403  # unsigned
        for _ in range(3):
            assert signed(emu, "GET", "/pools", "api-version=2025-06-01").status_code == 503
        resp = signed(emu, "GET", "/_emulator/faults", "api-version=2025-06-01")
    assert resp.status_code == 200 and resp.json() == {"503": 3}


def test_sdk_retries_through_faults(tmp_path) -> None:
    key = new_key()
    state = BatchState(account="a", data_dir=tmp_path, executor=InstantExecutor())
    plan = FaultPlan("503=0.2,500=0.1,reset=0.05", seed=3)
    with EmulatorServer(state, key, faults=plan) as emu:
        client = BatchClient(emu.url, AzureNamedKeyCredential("a", key), retry_total=10, retry_backoff_factor=0.01)
        pool_id = make_pool(client, nodes=1, slots=4)
        job_id = make_job(client, pool_id)
        client.create_tasks(job_id, [m.BatchTaskCreateOptions(id=f"t{i}", command_line="/bin/true") for i in range(300)])
        counts = wait_for(lambda: (c := client.get_job_task_counts(job_id)).task_counts.completed == 300 and c)
        assert counts.task_counts.succeeded == 300
        for _ in range(100):  # reads are retried on any fault: enough requests that every kind is met
            assert client.get_job(job_id).id == job_id
    served = plan.served()
    assert served.get("503", 0) >= 3 and served.get("500", 0) >= 3 and served.get("reset", 0) >= 1, served


def test_drop_handles_the_request_then_loses_the_answer(tmp_path) -> None:
    """A dropped job creation is made all the same: the SDK's retry meets JobExists."""
    from azure.core.exceptions import IncompleteReadError, ResourceExistsError, ServiceResponseError

    key = new_key()
    state = BatchState(account="a", data_dir=tmp_path, executor=InstantExecutor())
    plan = FaultPlan("drop=0.3", seed=5)
    with EmulatorServer(state, key, faults=plan) as emu:
        client = BatchClient(emu.url, AzureNamedKeyCredential("a", key), retry_total=10, retry_backoff_factor=0.01)
        exists = 0
        for i in range(30):
            while True:  # azure-core does not retry a POST whose answer was lost; do it like the runner does
                try:
                    client.create_job(m.BatchJobCreateOptions(id=f"j{i}", pool_info=m.BatchPoolInfo(pool_id="p")))
                except (ServiceResponseError, IncompleteReadError):
                    continue
                except ResourceExistsError:
                    exists += 1
                break
        plan.rates.clear()  # read back without faults
        assert sorted(j.id for j in client.list_jobs()) == sorted(f"j{i}" for i in range(30))
    served = plan.served()
    assert served.get("drop", 0) >= 5 and exists >= 1, (served, exists)
