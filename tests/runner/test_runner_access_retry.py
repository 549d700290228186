"""Tasks storage refused right after `pulumi up` (role assignments still propagating) are retried once, and the
report says what to check. Driven through the real azure-batch client on recorded Batch answers: the local
target's storage never refuses a node (its emulator reports no BlobAccessDenied)."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

from azure.batch import BatchClient
from azure.core.credentials import AzureNamedKeyCredential

from bigcompute.runner.monitor import ACCESS_HINT, AccessRetry, Progress, failed_tasks
from tests.conftest import transport

ENDPOINT = "https://acct.westeurope.batch.azure.com"
KEY = base64.b64encode(b"recorded answers check no signature").decode()  # requests are signed, never verified
JOB = "render-0123456789ab"


def _task(task_id: str, code: str, message: str) -> dict:
    return {"id": task_id, "executionInfo": {"retryCount": 0, "requeueCount": 0, "result": "failure",
                                             "failureInfo": {"category": "usererror", "code": code,
                                                             "message": message}}}


FAILED = {"value": [
    _task("frame-001", "BlobAccessDenied", "Access for one of the specified Azure Blob(s) is denied"),
    _task("frame-002", "FailureExitCode", "The task exited with an exit code representing a failure"),
]}
REACTIVATE = f"/jobs/{JOB}/tasks/frame-001/reactivate"


def _client(answers: dict) -> tuple[BatchClient, list]:
    http, adapter = transport(answers)
    client = BatchClient(ENDPOINT, AzureNamedKeyCredential("acct", KEY), transport=http, retry_total=0)
    return client, adapter.asked


def _progress(failed: int) -> Progress:
    return Progress(active=0, running=1, succeeded=3, failed=failed, state="active")


def test_a_refused_task_is_reactivated_once_and_other_failures_are_left_alone():
    client, asked = _client({("GET", f"/jobs/{JOB}/tasks"): (200, FAILED), ("POST", REACTIVATE): (204, b"")})
    retry = AccessRetry(client, JOB)
    assert retry.check(_progress(0)) == []  # nothing failed: nothing listed
    said = retry.check(_progress(2))
    assert said == ["task frame-001: BlobAccessDenied; retrying it once, in case the pool identity's role "
                    "assignment was still propagating"]
    assert retry.check(_progress(2)) == []  # the same count: no listing
    assert retry.check(_progress(1)) == []  # failed again after its retry: left failed, the report explains
    methods = [(r.method, r.url.split("?")[0].removeprefix(ENDPOINT)) for r in asked]
    assert methods == [("GET", f"/jobs/{JOB}/tasks"), ("POST", REACTIVATE), ("GET", f"/jobs/{JOB}/tasks")]
    assert parse_qs(urlsplit(asked[0].url).query)["$filter"] == ["executionInfo/result eq 'failure'"]


def test_a_completed_job_cannot_retry_and_says_why():
    refused = {"code": "JobCompleted", "message": {"lang": "en-US", "value": "The specified job is already in a "
                                                                             "completed state."}}
    client, asked = _client({("GET", f"/jobs/{JOB}/tasks"): (200, FAILED), ("POST", REACTIVATE): (409, refused)})
    [said] = AccessRetry(client, JOB).check(_progress(2))
    assert said == f"task frame-001: BlobAccessDenied, not retried (JobCompleted): {ACCESS_HINT}"
    assert "role assignment" in ACCESS_HINT and "bigcompute doctor" in ACCESS_HINT
    assert [r.method for r in asked] == ["GET", "POST"]


def test_the_report_names_the_pool_identitys_roles_for_a_refused_task():
    files = {("GET", f"/jobs/{JOB}/tasks"): (200, FAILED)}
    client, _ = _client(files)
    report = {f.id: f.failure for f in failed_tasks(client, JOB, outputs=None)}
    assert report["frame-001"] == f"Access for one of the specified Azure Blob(s) is denied: {ACCESS_HINT}"
    assert report["frame-002"] == "The task exited with an exit code representing a failure"
    assert json.dumps(report)  # plain strings, printable as they are
