"""SharedKey verification exactly as §A2 signs, and rejection of wrong or missing signatures."""

from __future__ import annotations

import base64
import os

import pytest
import requests
from azure.batch import BatchClient
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from bigcompute.emulator.auth import string_to_sign


def test_string_to_sign_matches_captured_post() -> None:
    headers = {"Content-Length": "529", "content-type": "application/json; odata=minimalmetadata",
               "ocp-date": "Tue, 24 Nov 2026 09:16:45 GMT", "client-request-id": "x"}
    got = string_to_sign("POST", "/jobs", "api-version=2025-06-01", headers, "acct")
    assert got == ("POST\n\n\n529\n\napplication/json; odata=minimalmetadata\n\n\n\n\n\n\n"
                   "ocp-date:Tue, 24 Nov 2026 09:16:45 GMT\n/acct/jobs\napi-version:2025-06-01")


def test_string_to_sign_decodes_query_like_parse_qs() -> None:
    query = "api-version=2025-06-01&$skiptoken=tok%2B1&$filter=state%20eq%20%27completed%27&$select=id%2Cstate"
    got = string_to_sign("GET", "/jobs/job1/tasks", query, {"ocp-date": "Tue, 24 Nov 2026 09:16:45 GMT"}, "acct")
    assert got == ("GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:Tue, 24 Nov 2026 09:16:45 GMT\n/acct/jobs/job1/tasks\n"
                   "$filter:state eq 'completed'\n$select:id,state\n$skiptoken:tok+1\napi-version:2025-06-01")


def test_wrong_key_is_rejected_with_403(emulator) -> None:
    wrong = base64.b64encode(os.urandom(32)).decode()
    client = BatchClient(emulator.url, AzureNamedKeyCredential(emulator.account, wrong), retry_total=0)
    with pytest.raises(HttpResponseError) as info:
        client.get_job("anything")
    assert info.value.status_code == 403
    assert info.value.error.code == "AuthenticationFailed"
    assert emulator.key not in str(info.value) and wrong not in str(info.value)


def test_wrong_account_name_is_rejected(emulator) -> None:
    client = BatchClient(emulator.url, AzureNamedKeyCredential("otheraccount", emulator.key), retry_total=0)
    with pytest.raises(HttpResponseError) as info:
        list(client.list_jobs())
    assert info.value.error.code == "AuthenticationFailed"


def test_missing_signature_gets_batch_error_body(emulator) -> None:
    resp = requests.get(f"{emulator.url}/jobs?api-version=2025-06-01", timeout=5)
    assert resp.status_code == 403
    body = resp.json()
    assert body["code"] == "AuthenticationFailed"
    assert body["message"]["lang"] == "en-US"
    assert resp.headers["request-id"] in body["message"]["value"]
    assert resp.headers["content-type"].startswith("application/json;odata=minimalmetadata")


def test_tampered_request_is_rejected(emulator, batch) -> None:
    """A valid signature for one path must not authorize another."""
    captured = {}

    def hook(request) -> None:
        captured["headers"] = dict(request.http_request.headers)

    with pytest.raises(ResourceNotFoundError):
        batch.get_job("nope", raw_request_hook=hook)
    resp = requests.get(f"{emulator.url}/pools?api-version=2025-06-01", headers=captured["headers"], timeout=5)
    assert resp.status_code == 403
