"""Helpers for tests that drive the emulator through the real SDK (shared with the runner's tests)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Any

from azure.batch import BatchClient
from azure.batch import models as m


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll `check` until it returns something truthy; raise AssertionError with the last value otherwise."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {value!r})")


# The image every test pool names (Batch refuses a pool without one); locally any image runs on this machine.
LOCAL_VM = m.VirtualMachineConfiguration(
    image_reference=m.BatchVmImageReference(publisher="canonical", offer="ubuntu-24_04-lts", sku="server"),
    node_agent_sku_id="batch.node.ubuntu 24.04")


def make_pool(client: BatchClient, nodes: int = 1, slots: int = 1, **kwargs: Any) -> str:
    pool_id = unique("pool")
    kwargs.setdefault("virtual_machine_configuration", LOCAL_VM)
    client.create_pool(m.BatchPoolCreateOptions(id=pool_id, vm_size="standard_d2s_v3", target_dedicated_nodes=nodes,
                                                task_slots_per_node=slots, **kwargs))
    wait_for(lambda: client.get_pool(pool_id).allocation_state == "steady")
    return pool_id


def make_job(client: BatchClient, pool_id: str, **kwargs: Any) -> str:
    job_id = unique("job")
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id), **kwargs))
    return job_id


def wait_task(client: BatchClient, job_id: str, task_id: str, timeout: float = 10.0) -> m.BatchTask:
    return wait_for(lambda: (t := client.get_task(job_id, task_id)).state == "completed" and t, timeout)


def signed(emulator: Any, method: str, path: str, query: str, body: bytes | Iterable[bytes] | None = None,
           date: str | None = None, headers: dict[str, str] | None = None, sign_query: str | None = None) -> Any:
    """A raw request signed like the SDK signs it (§A2). `date` replaces ocp-date ("" sends none); `sign_query`
    signs another query than the one sent (to tamper with a signed request). An iterable body is sent chunked."""
    import requests

    from bigcompute.emulator.wire.auth import sign, string_to_sign

    sent = dict(headers or {})
    if date != "":
        sent["ocp-date"] = date or formatdate(usegmt=True)
    if body is not None:
        sent["content-type"] = "application/json; odata=minimalmetadata"
        if isinstance(body, bytes):
            sent["content-length"] = str(len(body))
    text = string_to_sign(method, path, query if sign_query is None else sign_query, sent, emulator.account)
    sent["Authorization"] = f"SharedKey {emulator.account}:{sign(emulator.key, text)}"
    url = f"{emulator.url}{path}" + (f"?{query}" if query else "")
    return requests.request(method, url, headers=sent, data=body, timeout=30)
