"""SharedKey verification exactly as §A2 signs, and rejection of wrong or missing signatures."""

from __future__ import annotations

import base64
import http.client
import json
import os
import time
from email.utils import formatdate

import pytest
import requests
from azure.batch import BatchClient
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from bigcompute.emulator.wire.auth import string_to_sign
from bigcompute.local.testing import signed


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


# --- the date window and the signed query (issue 13, Low 12) -----------------------------------------------
def _date(offset_minutes: float) -> str:
    return formatdate(time.time() + offset_minutes * 60, usegmt=True)


@pytest.mark.parametrize("date", ["Mon, 01 Jan 2001 00:00:00 GMT", "", "16 ahead", "16 behind", "not a date"])
def test_signed_request_outside_the_15_minute_window_is_refused(emulator, date) -> None:
    if date.startswith("16"):
        date = _date(16 if date.endswith("ahead") else -16)
    resp = signed(emulator, "GET", "/pools", "api-version=2025-06-01", date=date)
    assert resp.status_code == 403, resp.text
    body = resp.json()
    assert body["code"] == "AuthenticationFailed"
    detail = {v["key"]: v["value"] for v in body["values"]}["AuthenticationErrorDetail"]
    assert "date" in detail.lower()


@pytest.mark.parametrize("offset", [14, -14, 0])
def test_signed_request_inside_the_window_is_accepted(emulator, offset) -> None:
    resp = signed(emulator, "GET", "/pools", "api-version=2025-06-01", date=_date(offset))
    assert resp.status_code == 200, resp.text


def test_date_header_counts_when_ocp_date_is_absent(emulator) -> None:
    assert signed(emulator, "GET", "/pools", "api-version=2025-06-01", date="",
                  headers={"Date": _date(0)}).status_code == 200
    assert signed(emulator, "GET", "/pools", "api-version=2025-06-01", date="",
                  headers={"Date": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code == 403


def test_ocp_date_wins_over_date(emulator) -> None:
    resp = signed(emulator, "GET", "/pools", "api-version=2025-06-01", date="Mon, 01 Jan 2001 00:00:00 GMT",
                  headers={"Date": _date(0)})
    assert resp.status_code == 403


def test_sdk_requests_carry_a_date_the_emulator_accepts(batch) -> None:
    assert isinstance(list(batch.list_pools()), list)


@pytest.mark.parametrize("appended", ["&api-version=2024-07-01.20.0", "&$filter=id%20eq%20%27x%27",
                                      "&maxresults=1&maxresults=2"])
def test_appending_a_repeated_query_parameter_to_a_signed_request_is_refused(emulator, appended) -> None:
    """The client signs the first value of each name; the handler must never act on another one."""
    good = "api-version=2025-06-01&$filter=id%20eq%20%27a%27" + ("&maxresults=1" if "maxresults" in appended else "")
    assert signed(emulator, "GET", "/pools", good).status_code == 200
    resp = signed(emulator, "GET", "/pools", good + appended, sign_query=good)
    assert resp.status_code in (400, 403), resp.text
    assert resp.json()["code"] in ("InvalidQueryParameterValue", "AuthenticationFailed")
    # Signed honestly, a repeated parameter is still refused: the handler could not tell which one counts.
    resp = signed(emulator, "GET", "/pools", good + appended)
    assert resp.status_code == 400 and resp.json()["code"] == "InvalidQueryParameterValue"


def test_an_added_unsigned_parameter_breaks_the_signature(emulator) -> None:
    resp = signed(emulator, "GET", "/pools", "api-version=2025-06-01&$select=id", sign_query="api-version=2025-06-01")
    assert resp.status_code == 403 and resp.json()["code"] == "AuthenticationFailed"


def test_a_blank_parameter_is_neither_signed_nor_seen_by_the_handler(emulator) -> None:
    resp = signed(emulator, "GET", "/pools", "api-version=2025-06-01&maxresults=", sign_query="api-version=2025-06-01")
    assert resp.status_code == 200


def test_a_repeated_signed_header_is_refused(emulator) -> None:
    from bigcompute.emulator.wire.auth import sign, string_to_sign

    headers = {"ocp-date": _date(0)}
    text = string_to_sign("GET", "/pools", "api-version=2025-06-01", headers, emulator.account)
    auth = f"SharedKey {emulator.account}:{sign(emulator.key, text)}"
    conn = http.client.HTTPConnection(emulator.url.removeprefix("http://"), timeout=5)
    conn.putrequest("GET", "/pools?api-version=2025-06-01")
    for name, value in [("ocp-date", headers["ocp-date"]), ("ocp-date", _date(-60)), ("Authorization", auth)]:
        conn.putheader(name, value)
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 400 and json.loads(resp.read())["code"] == "InvalidHeaderValue"
