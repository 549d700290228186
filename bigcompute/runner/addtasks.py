"""The job manager task of a scheduled workload's runs: adds the workload's tasks, expanded once by `apply`, to
the job Batch just created for this run, with the job's own authentication token.

It runs on the node, where nothing of bigcompute and no azure-batch is installed: standard library only, and
no import of bigcompute. Usage: `python3 addtasks.py TASKS.jsonl` (one task body per line, Batch's JSON, the
job id written as JOB_MARK). It reads AZ_BATCH_ACCOUNT_URL, AZ_BATCH_JOB_ID and AZ_BATCH_AUTHENTICATION_TOKEN
(`authenticationTokenSettings: {access: [job]}`), and POSTs the tasks in collections of at most 100 (Batch's
limit per addtaskcollection request), in file order, so a task that depends on others (the merge) comes after
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
# The last Batch data-plane version whose tasks carry authentication tokens (authenticationTokenSettings).
API_VERSION = "2024-07-01.20.0"
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
    headers = {"Authorization": f"Bearer {env['AZ_BATCH_AUTHENTICATION_TOKEN']}",
               "Content-Type": "application/json; odata=minimalmetadata"}
    refused: list[str] = []
    added = 0
    for chunk in chunks(argv[1], job):
        added += add(url, headers, chunk, refused)
    print(f"added {added} tasks to job {job}")
    for line in refused[:20]:
        print(line, file=sys.stderr)
    return 1 if refused else 0


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


def add(url: str, headers: dict[str, str], chunk: list[dict], refused: list[str]) -> int:
    """Add one collection; returns how many of its tasks the job now holds."""
    for attempt in range(ATTEMPTS):
        status, body, retry_after = post(url, headers, {"value": chunk})
        if status == 413 and len(chunk) > 1:  # RequestBodyTooLarge: the 1 MB cap, in two halves
            half = len(chunk) // 2
            return add(url, headers, chunk[:half], refused) + add(url, headers, chunk[half:], refused)
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
