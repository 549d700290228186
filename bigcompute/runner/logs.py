"""A task's stdout or stderr: from its node while the node has it, else from the copy uploaded when the task
completed; the whole file, its last lines, or followed until the task completes."""

from __future__ import annotations

import time
from collections.abc import Iterator

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from bigcompute.runner.clients import Clients
from bigcompute.runner.errors import DeployError
from bigcompute.runner.jobs import wire


def default_task(clients: Clients, job: str) -> str:
    """The first failed task, else the merge, else the first task."""
    failed = list(clients.batch.list_tasks(job, filter="executionInfo/result eq 'failure'", select=["id"],
                                           max_results=1))
    if failed:
        return failed[0].id
    ids = [t.id for t in clients.batch.list_tasks(job, select=["id"], max_results=1000)]
    if not ids:
        raise DeployError(f"job {job} has no tasks")
    return "merge" if "merge" in ids else ids[0]


def read(clients: Clients, job: str, task: str, stream: str, follow: bool, tail: int | None,
         interval: float = 1.0) -> Iterator[str]:
    """The stream's text in chunks; `tail`: only its last lines first; `follow`: until the task completes."""
    data = _read_from(clients, job, task, stream, 0)
    offset = len(data)
    yield last_lines(data.decode("utf-8", "replace"), tail) if tail is not None else data.decode("utf-8", "replace")
    while follow:
        done = wire(clients.batch.get_task(job, task, select=["state"]).state) == "completed"
        more = _read_from(clients, job, task, stream, offset)
        offset += len(more)
        if more:
            yield more.decode("utf-8", "replace")
        if done:
            return
        time.sleep(interval)


def last_lines(text: str, n: int) -> str:
    if n <= 0:
        return ""
    lines = text.splitlines(keepends=True)
    return "".join(lines[-n:])


def _read_from(clients: Clients, job: str, task: str, stream: str, offset: int) -> bytes:
    try:
        return b"".join(clients.batch.download_task_file(job, task, stream, ocp_range=f"bytes={offset}-"))
    except ResourceNotFoundError:
        return _from_blob(clients, job, task, stream, offset)
    except HttpResponseError as e:
        if e.status_code == 416:  # nothing past `offset` yet
            return b""
        raise DeployError(f"cannot read {stream} of task {task}: {e.reason}") from None


def _from_blob(clients: Clients, job: str, task: str, stream: str, offset: int) -> bytes:
    """The node no longer has the file: read the copy uploaded when the task completed."""
    try:
        blob = clients.container("outputs").get_blob_client(f"{job}/{task}/logs/{stream}")
        return blob.download_blob(offset=offset or None).readall()
    except ResourceNotFoundError:
        raise DeployError(f"no {stream} for task {task} of job {job}") from None
