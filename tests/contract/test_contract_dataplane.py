"""Every data-plane body the runner sends (job create, task collection with the merge task, job update) for
the shipped workloads, against the Batch data-plane spec.

The spec is the one for api-version 2025-06-01, the version azure-batch 15 sends (TypeSpec-generated
`Azure.Batch/stable/2025-06-01/BatchService.json`, tests/data/specs/SOURCES); operations are named by its
operationIds (Jobs_CreateJob, Tasks_CreateTaskCollection, Jobs_UpdateJob)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.contract.conftest import SPECS, WORKLOADS, SpecSet, body_schema, runner_requests

DATA_PLANE = "batch/data-plane/Azure.Batch/stable/2025-06-01/BatchService.json"


def _errors(specs: SpecSet, operation: str, body: dict) -> list[str]:
    return specs.errors(body_schema(SPECS, DATA_PLANE, operation), body)


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda p: p.stem)
def test_every_runner_request_matches_the_data_plane_schema(workload: Path, official_specs: SpecSet) -> None:
    failures = {r.label: e for r in runner_requests(workload) if (e := _errors(official_specs, r.operation, r.body))}
    assert failures == {}


def _request(operation: str) -> dict:
    return next(r.body for r in runner_requests(WORKLOADS[0]) if r.operation == operation)


@pytest.mark.parametrize(("operation", "change", "expected"), [
    ("Jobs_CreateJob", {"onAllTasksComplete": "terminateJob"}, "onAllTasksComplete: 'terminateJob'"),
    ("Jobs_CreateJob", {"poolInfo": None}, "poolInfo: None is not"),
    ("Jobs_UpdateJob", {"priority": "high"}, "priority: 'high'"),
])
def test_the_data_plane_schema_refuses_a_broken_job(official_specs: SpecSet, operation: str, change: dict,
                                                    expected: str) -> None:
    errors = _errors(official_specs, operation, {**_request(operation), **change})
    assert any(e.startswith(expected) for e in errors), errors


@pytest.mark.parametrize(("change", "expected"), [
    ({"commandLine": None}, "value/0/commandLine: None is not"),
    ({"userIdentity": {"autoUser": {"scope": "Pool"}}}, "value/0/userIdentity/autoUser/scope: 'Pool'"),
    ({"constraints": {"maxTaskRetryCount": "3"}}, "value/0/constraints/maxTaskRetryCount: '3'"),
])
def test_the_data_plane_schema_refuses_a_broken_task(official_specs: SpecSet, change: dict, expected: str) -> None:
    tasks = _request("Tasks_CreateTaskCollection")["value"]
    errors = _errors(official_specs, "Tasks_CreateTaskCollection", {"value": [{**tasks[0], **change}]})
    assert any(e.startswith(expected) for e in errors), errors
