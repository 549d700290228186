"""The job manager task of a scheduled workload's runs: adds the workload's tasks, expanded once by `apply`, to
the job Batch just created for this run, as the pool's managed identity.

It runs on the node, where nothing of bigcompute and no azure-batch or azure-identity is installed: standard
library only, and no import of bigcompute. Usage: `python3 addtasks.py TASKS.jsonl` (one task body per line,
Batch's JSON, the job id written as JOB_MARK). It reads AZ_BATCH_ACCOUNT_URL and AZ_BATCH_JOB_ID, gets an Entra
token for Batch from the node's instance metadata service for the identity AZURE_CLIENT_ID names (the pool's
user-assigned identity, which holds Azure Batch Job Submitter on the account), and POSTs the tasks in
collections of at most 100 (Batch's limit per addtaskcollection request), in file order, so a task that depends on others (the merge) comes after
them. Throttling (429) and server errors are retried with backoff, honouring Retry-After; a task the job already
holds (`TaskExists`, from an earlier attempt of this manager) counts as added. Exits 1 when a task is refused.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

JOB_MARK = "\0job\0"  # bigcompute.workload.storage.JOB_MARK: no workload string holds a NUL
API_VERSION = "2025-06-01"
# Task authentication tokens (AZ_BATCH_AUTHENTICATION_TOKEN) were retired on 30 September 2024; a pool's managed
# identity replaces them (https://learn.microsoft.com/azure/batch/managed-identity-pools). The token comes from
# IMDS (https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token), or
# from the address azure-identity takes in its place (the local target's emulator sets it).
IMDS = "http://169.254.169.254"
IMDS_ENV = "AZURE_POD_IDENTITY_AUTHORITY_HOST"
TOKEN_PATH = "/metadata/identity/oauth2/token"
BATCH_RESOURCE = "https://batch.core.windows.net/"
CHUNK = 100
ATTEMPTS = 8
RETRIED = {429, 500, 502, 503, 504}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: addtasks.py TASKS.jsonl", file=sys.stderr)
        return 2
    env = os.environ
    job = env["AZ_BATCH_JOB_ID"]
    url = (f"{env['AZ_BATCH_ACCOUNT_URL'].rstrip('/')}/jobs/{urllib.parse.quote(job, safe='')}/addtaskcollection"
           f"?api-version={API_VERSION}")
    credential = IdentityCredential(env.get(IMDS_ENV) or IMDS, env.get("AZURE_CLIENT_ID", ""))
    refused: list[str] = []
    added = 0
    try:
        for chunk in chunks(argv[1], job):
            added += add(url, credential, chunk, refused)
    except TokenError as e:
        print(f"no token for Batch from the node's managed identity {credential.client_id or '(the only one)'}: "
              f"{e}", file=sys.stderr)
        return 1
    print(f"added {added} tasks to job {job}")
    for line in refused[:20]:
        print(line, file=sys.stderr)
    return 1 if refused else 0


class TokenError(Exception):
    pass


class IdentityCredential:
    """Batch's request headers with the pool identity's token, fetched again shortly before it expires: adding
    a large collection can outlast one token."""

    MARGIN = 300.0  # seconds before expiry

    def __init__(self, endpoint: str, client_id: str) -> None:
        self.endpoint, self.client_id = endpoint, client_id
        self._token, self._expires = "", 0.0

    def headers(self) -> dict[str, str]:
        if time.time() > self._expires - self.MARGIN:
            self._token, self._expires = identity_token(self.endpoint, self.client_id)
        return {"Authorization": "Bearer " + self._token, "Content-Type": "application/json; odata=minimalmetadata"}


def identity_token(endpoint: str, client_id: str) -> tuple[str, float]:
    """An access token for Batch from IMDS for the user-assigned identity `client_id` (IMDS picks the only one
    when empty). Retries what IMDS documents as transient (404 while it starts, 410, 429, 5xx)."""
    query = {"api-version": "2018-02-01", "resource": BATCH_RESOURCE}
    if client_id:
        query["client_id"] = client_id
    url = f"{endpoint.rstrip('/')}{TOKEN_PATH}?{urllib.parse.urlencode(query)}"
    for attempt in range(ATTEMPTS):
        request = urllib.request.Request(url, headers={"Metadata": "true"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = json.loads(response.read())
            if not body.get("access_token"):
                raise TokenError("the metadata service answered without an access_token")
            expires = body.get("expires_on") or time.time() + float(body.get("expires_in") or 0)
            return body["access_token"], float(expires)
        except urllib.error.HTTPError as e:
            if e.code not in (404, 410, 429) and e.code < 500:
                raise TokenError(f"HTTP {e.code}: {message_of(e)}") from None
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(min(30.0, 0.5 * 2 ** attempt))
    raise TokenError(f"the metadata service at {endpoint} did not answer after {ATTEMPTS} attempts")


def message_of(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        return ""
    return str(body.get("error_description") or body.get("error") or "")


def chunks(path: str, job: str):
    """The file's task bodies, the job id filled in, CHUNK at a time."""
    mark, filled = json.dumps(JOB_MARK)[1:-1], json.dumps(job)[1:-1]
    chunk = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                chunk.append(json.loads(line.replace(mark, filled)))
                if len(chunk) == CHUNK:
                    yield chunk
                    chunk = []
    if chunk:
        yield chunk


def add(url: str, credential: IdentityCredential, chunk: list[dict], refused: list[str]) -> int:
    """Add one collection; returns how many of its tasks the job now holds."""
    for attempt in range(ATTEMPTS):
        status, body, retry_after = post(url, credential.headers(), {"value": chunk})
        if status == 413 and len(chunk) > 1:  # RequestBodyTooLarge: the 1 MB cap, in two halves
            half = len(chunk) // 2
            return add(url, credential, chunk[:half], refused) + add(url, credential, chunk[half:], refused)
        if status == 200:
            again = settle(chunk, body.get("value") or [], refused)
            if not again:
                return len(chunk)
            chunk = again  # the tasks Batch answered `servererror` for
        elif status not in RETRIED and status != 0:
            raise SystemExit(f"adding tasks failed: HTTP {status}: {body.get('code')}: {message(body)}")
        time.sleep(retry_after if retry_after is not None else min(30.0, 0.5 * 2 ** attempt))
    raise SystemExit(f"adding tasks failed: still refused after {ATTEMPTS} attempts")


def settle(chunk: list[dict], results: list[dict], refused: list[str]) -> list[dict]:
    """The tasks to send again; refusals other than TaskExists are recorded."""
    by_id = {t["id"].lower(): t for t in chunk}
    again = []
    for r in results:
        error = r.get("error") or {}
        if r.get("status") == "servererror":
            again.append(by_id[r["taskId"].lower()])
        elif r.get("status") != "success" and error.get("code") != "TaskExists":
            refused.append(f"task {r.get('taskId')}: {error.get('code')}: {message(error)}")
    return again


def post(url: str, headers: dict[str, str], payload: dict) -> tuple[int, dict, float | None]:
    """(status, JSON body, Retry-After seconds); status 0 when the service could not be reached."""
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}"), None
    except urllib.error.HTTPError as e:
        try:
            body = json.loads(e.read() or b"{}")
        except ValueError:
            body = {}
        after = e.headers.get("Retry-After")
        return e.code, body, float(after) if after and after.isdigit() else None
    except (urllib.error.URLError, OSError):
        return 0, {}, None


def message(body: dict) -> str:
    value = body.get("message")
    text = value.get("value", "") if isinstance(value, dict) else str(value or "")
    return text.splitlines()[0] if text else ""


if __name__ == "__main__":
    sys.exit(main(sys.argv))
