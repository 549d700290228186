"""Fault injection: seeded 429/503/reset faults; the SDK's own retry policy gets through them."""

from __future__ import annotations

import pytest
import requests
from azure.batch import models as m

from bigcompute.emulator import BatchState, EmulatorServer, InstantExecutor
from bigcompute.emulator.faults import FaultPlan
from bigcompute.emulator.testing import make_job, make_pool, wait_for


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
    with EmulatorServer(state, "a2V5", faults=FaultPlan("429=1")) as emu:
        resp = requests.get(f"{emu.url}/jobs", timeout=5)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"
    assert resp.json()["code"] == "TooManyRequests"


def test_sdk_retries_through_faults(tmp_path) -> None:
    import base64
    import os

    from azure.batch import BatchClient
    from azure.core.credentials import AzureNamedKeyCredential

    key = base64.b64encode(os.urandom(32)).decode()
    state = BatchState(account="a", data_dir=tmp_path, executor=InstantExecutor())
    with EmulatorServer(state, key, faults=FaultPlan("503=0.2,500=0.1,reset=0.05", seed=3)) as emu:
        client = BatchClient(emu.url, AzureNamedKeyCredential("a", key), retry_total=10, retry_backoff_factor=0.01)
        pool_id = make_pool(client, nodes=1, slots=4)
        job_id = make_job(client, pool_id)
        client.create_tasks(job_id, [m.BatchTaskCreateOptions(id=f"t{i}", command_line="/bin/true") for i in range(300)])
        counts = wait_for(lambda: (c := client.get_job_task_counts(job_id)).task_counts.completed == 300 and c)
        assert counts.task_counts.succeeded == 300
