"""Add a workload's tasks to its job: streamed from the lazy expansion in 100-task collections, several
requests in flight, a bounded window in memory, idempotent on re-run.

A re-run (or a resumed, killed apply) first lists the job's existing tasks once, remembering a hash
of each one's spec, and adds only what is missing. A `TaskExists` answer (a retried request whose
first attempt got through, or a concurrent apply) counts as added only when the existing task's spec
matches the one we meant to add.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from azure.batch import BatchClient
from azure.core.exceptions import HttpResponseError

from bigcompute.runner.errors import DeployError

CHUNK = 100
TaskBody = dict[str, Any]  # a task as Batch's JSON (see workload.wire.task_body)
SPEC_FIELDS = ("commandLine", "resourceFiles", "outputFiles", "environmentSettings", "dependsOn")


def spec_key(task: dict) -> int:
    """A hash of the fields that define what a task does, comparable between what we send and what Batch has."""
    body = {k: task.get(k) for k in SPEC_FIELDS if task.get(k)}
    return int.from_bytes(hashlib.blake2b(json.dumps(body, sort_keys=True).encode(), digest_size=8).digest(), "big")


@dataclass
class SubmitReport:
    """Counts shared by the worker threads; every update goes through the lock."""

    added: int = 0
    existing: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, *, added: int = 0, existing: int = 0, failure: str | None = None) -> None:
        with self.lock:
            self.added += added
            self.existing += existing
            if failure:
                self.failures.append(failure)


def existing_tasks(client: BatchClient, job_id: str) -> dict[str, int]:
    """id (lowercased) → spec hash of every task already in the job; one paged listing."""
    select = ["id", *SPEC_FIELDS]
    return {t.id.lower(): spec_key(t.as_dict()) for t in client.list_tasks(job_id, select=select, max_results=1000)}


def add_tasks(client: BatchClient, job_id: str, tasks: Iterable[TaskBody],
              known: dict[str, int], inflight: int = 6,
              on_progress: Callable[[int], None] | None = None) -> SubmitReport:
    report = SubmitReport()
    todo = (t for t in tasks if _needs_adding(t, known, report))
    with ThreadPoolExecutor(max_workers=inflight) as pool:
        pending: set[Future] = set()
        for chunk in _chunks(todo):
            if len(pending) >= inflight:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                _collect(done, on_progress)
            pending.add(pool.submit(_add_chunk, client, job_id, chunk, report))
        _collect(wait(pending).done, on_progress)
    if report.failures:
        shown = "; ".join(report.failures[:5])
        more = f" (and {len(report.failures) - 5} more)" if len(report.failures) > 5 else ""
        raise DeployError(f"job {job_id}: {len(report.failures)} tasks were refused: {shown}{more}")
    return report


def _needs_adding(task: TaskBody, known: dict[str, int], report: SubmitReport) -> bool:
    have = known.get(task['id'].lower())
    if have is None:
        return True
    if have != spec_key(task):
        report.count(failure=f"task {task['id']} already exists with a different definition")
    else:
        report.count(existing=1)
    return False


def _chunks(tasks: Iterator[TaskBody]) -> Iterator[list[TaskBody]]:
    while chunk := list(islice(tasks, CHUNK)):
        yield chunk


def _collect(done: Iterable[Future], on_progress: Callable[[int], None] | None) -> None:
    for f in done:
        n = f.result()  # re-raises a DeployError from the worker
        if on_progress:
            on_progress(n)


def _add_chunk(client: BatchClient, job_id: str, chunk: list[TaskBody],
               report: SubmitReport) -> int:
    """Add one collection; split it when Batch finds the body too large. Returns tasks settled."""
    try:
        result = client.create_task_collection(job_id, {"value": chunk})  # type: ignore[arg-type]
    except HttpResponseError as e:
        code = e.error.code if e.error else None
        if code == "RequestBodyTooLarge" and len(chunk) > 1:
            half = len(chunk) // 2
            return _add_chunk(client, job_id, chunk[:half], report) + _add_chunk(client, job_id, chunk[half:], report)
        raise DeployError(f"job {job_id}: adding tasks failed: {code or e.status_code}: {_message(e)}") from e
    by_id = {t['id'].lower(): t for t in chunk}
    retry: list[TaskBody] = []
    for r in result.result_values or []:
        task = by_id[r.task_id.lower()]
        if r.status == "success":
            report.count(added=1)
        elif r.status == "servererror":
            retry.append(task)
        elif r.error and r.error.code == "TaskExists":
            _check_existing(client, job_id, task, report)
        else:
            message = r.error.message.value if r.error and r.error.message else "refused"
            report.count(failure=f"{r.task_id}: {r.error.code if r.error else 'error'}: {message}")
    return len(chunk) - len(retry) + (_add_chunk(client, job_id, retry, report) if retry else 0)


def _check_existing(client: BatchClient, job_id: str, task: TaskBody,
                    report: SubmitReport) -> None:
    existing = client.get_task(job_id, task['id'], select=["id", *SPEC_FIELDS])
    if spec_key(existing.as_dict()) == spec_key(task):
        report.count(existing=1)
    else:
        report.count(failure=f"task {task['id']} already exists with a different definition")


def _message(e: HttpResponseError) -> str:
    return (e.error.message if e.error and e.error.message else str(e)).splitlines()[0]
