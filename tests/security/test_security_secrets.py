"""No secret in anything a run shows: a full `apply --wait --download` on the local target (tasks running as
real processes, one of them failing), then `status`, `logs`, `download`, `plan`, `expand` and error paths
(an unknown task, an invalid workload, a refused key). Everything they print — stdout, stderr — and every
log record of the `azure`, `bigcompute` and `urllib3` loggers at DEBUG is scanned for the emulator's
account key, Azurite's well-known key, the key material of credentials.json, SAS signatures and
authorization headers. Task processes must not see the account key in their environment, and `download`
must refuse a manifest naming files outside its folder. What the run persists is scanned as well: Batch's job
and task definitions and metadata, the emulator's database, every blob, the local data folders.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import re
import shutil
import sqlite3
import textwrap
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner, Result

from bigcompute.cli.main import cli
from bigcompute.local.azurite import DEV_KEY
from bigcompute.local.launcher import KEY_ENV
from tests.runner.conftest import STACK, write_local_files

# What would betray a credential in text: a SAS signature, a signed or bearer authorization header.
LEAK_PATTERNS = [
    re.compile(r"[?&]sig=", re.IGNORECASE),
    # a header value written out; not code that builds one from a variable ("Bearer " + token, f"Bearer {t}"),
    # which the job manager script carries: a literal bearer token is caught by the Bearer pattern below
    re.compile(r"authorization['\"]?\s*[:=]\s*f?+['\"]?+(?!REDACTED|Bearer\s*['\"{+])[^\s'\"]", re.IGNORECASE),
    re.compile(r"SharedKey(Lite)? \S+:"),
    re.compile(r"Bearer\s+[A-Za-z0-9._~+/-]{8,}"),
    re.compile(r"AccountKey="),
]
# Loggers forced to DEBUG for the whole run. Setting the children too means the runner's own
# `azure` -> WARNING (bigcompute/runner/clients.py) is not what keeps the scan clean.
LOGGERS = ["azure", "azure.core", "azure.batch", "azure.storage", "azure.identity",
           "azure.core.pipeline.policies.http_logging_policy", "bigcompute", "urllib3"]

# The task's shell writes its own environment twice: as `env` prints it, and raw from /proc/<its pid>/environ.
DUMP = "mkdir -p out; env > out/env.txt; tr '\\0' '\\n' < /proc/$$/environ > out/environ.txt; cat out/env.txt\n"


def key_forms(key: str) -> set[str]:
    """A key as it could show up: whole, URL-quoted, without padding, a long prefix, its bytes in hex."""
    forms = {key, quote(key, safe=""), key.rstrip("="), key[:16]}
    with contextlib.suppress(ValueError):
        forms.add(base64.b64decode(key).hex())
    return {f for f in forms if len(f) >= 12}


def find_leaks(text: str, secrets: set[str]) -> list[str]:
    found = [f"secret {s[:6]}… at {text.index(s)}" for s in secrets if s in text]
    for pattern in LEAK_PATTERNS:
        found += [f"{pattern.pattern!r}: …{text[max(m.start() - 60, 0):m.end() + 20]!r}…"
                  for m in pattern.finditer(text)]
    return found


def test_the_scanner_finds_what_it_looks_for() -> None:
    """Guard against a vacuous scan: each kind of leak is caught."""
    key = base64.b64encode(os.urandom(32)).decode()
    for text in (f"key {key}", f"key {quote(key, safe='')}", "GET /c/b?sv=2024&sig=abc%2Bdef",
                 "Authorization: SharedKey devbatch:abc=", "'Authorization': 'SharedKey acct:xyz='",
                 "authorization=Bearer eyJ0eXAiOiJKV1QiLCJhbGciOi", "DefaultEndpointsProtocol=http;AccountKey=abc"):
        assert find_leaks(text, key_forms(key)), text
    assert not find_leaks("'Authorization': 'REDACTED'\nMake sure the Authorization header is formed", key_forms(key))
    for code in ('headers = {"Authorization": f"Bearer {env[\'AZ_BATCH_AUTHENTICATION_TOKEN\']}"}',
                 "headers = {'Authorization': 'Bearer ' + tok}"):
        assert not find_leaks(code, key_forms(key)), code
    assert find_leaks('headers = {"Authorization": "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOi"}', key_forms(key))


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


@dataclass
class FullRun:
    repo: Path
    ok: str
    bad: str
    secrets: set[str]
    outputs: dict[str, Result] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join([*(f"== {k}\n{r.output}\n{r.exc_info!r}" for k, r in self.outputs.items()), *self.logs])


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, local_target) -> FullRun:
    repo = tmp_path_factory.mktemp("secrets") / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "stacks").mkdir()
    (repo / "stacks" / "Pulumi.test.yaml").write_text(textwrap.dedent(STACK))
    (repo / "workloads" / "prog").mkdir(parents=True)
    (repo / "workloads" / "prog" / "square.sh").write_text("mkdir -p out; echo $(( $1 * $1 )) > out/sq.txt\n")
    (repo / "workloads" / "prog" / "dump.sh").write_text(DUMP)
    suffix = uuid.uuid4().hex[:6]
    ok, bad = f"secrets-ok-{suffix}", f"secrets-fail-{suffix}"
    (repo / "workloads" / f"{ok}.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: bigcompute/v1
        kind: Workload
        name: {ok}
        pool: cpu
        inputs: [prog/square.sh, prog/dump.sh]
        tasks:
          - id: sq{{i}}
            command: sh prog/square.sh {{i}}
            sweep: {{i: {{start: 1, stop: 3}}}}
            outputs: [out/*.txt]
          - id: dump
            command: exec sh prog/dump.sh
            outputs: [{{pattern: out/*.txt, when: always}}]
        merge:
          command: mkdir -p res; cat $BIGCOMPUTE_TASK_OUTPUTS/sq*/sq.txt > res/all.txt
          outputs: [res/all.txt]
        """))
    (repo / "workloads" / f"{bad}.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: bigcompute/v1
        kind: Workload
        name: {bad}
        pool: cpu
        tasks:
          - id: boom
            command: echo "stderr of a failing task" >&2; exit 3
            settings: {{retries: 0}}
        """))
    creds = write_local_files(repo, local_target) / "credentials.json"
    stored = json.loads(creds.read_text())
    wrong = base64.b64encode(os.urandom(32)).decode()
    secrets = set().union(*(key_forms(k) for k in [local_target.batch_key, DEV_KEY, wrong, *stored.values()]))
    result = FullRun(repo, ok, bad, secrets)

    capture = Capture()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in [*LOGGERS, ""]}
    root.addHandler(capture)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(repo)
        # Credentials in the environment of whatever runs the emulator must not reach tasks either.
        mp.setenv(KEY_ENV, local_target.batch_key)
        mp.setenv("AZURE_STORAGE_KEY", DEV_KEY)
        try:
            for name in LOGGERS:
                logging.getLogger(name).setLevel(logging.DEBUG)
            root.setLevel(logging.DEBUG)
            o = result.outputs
            o["apply"] = run("apply", "--stack", "test", "--wait", "--download", "dl", "--poll-interval", "0.2")
            o["plan"] = run("plan", "--stack", "test", "--format", "json")
            o["status"] = run("status", "--stack", "test")
            o["status-json"] = run("status", "--stack", "test", "--format", "json")
            o["logs-dump"] = run("logs", ok, "dump", "--stack", "test")
            o["logs-failed"] = run("logs", bad, "--stack", "test", "--stderr")
            o["download"] = run("download", ok, "--stack", "test", "--to", "again", "--all")
            o["expand"] = run("expand", f"workloads/{ok}.yaml")
            o["logs-unknown-task"] = run("logs", ok, "no-such-task", "--stack", "test")
            (repo / "broken").mkdir()
            (repo / "broken" / "w.yaml").write_text("apiVersion: bigcompute/v1\nkind: Workload\nname: x\n"
                                                    "pool: cpu\ntasks: [{id: a, comand: x}]\n")
            o["invalid"] = run("apply", "broken/w.yaml", "--stack", "test")
            creds.write_text(json.dumps({**stored, "batchAccountKey": wrong}))
            o["wrong-batch-key"] = run("status", "--stack", "test")
            creds.write_text(json.dumps({**stored, "storageAccountKey": wrong}))
            o["wrong-storage-key"] = run("apply", "--stack", "test")
            creds.write_text(json.dumps({**stored, "batchAccountKey": "not a key"}))
            o["malformed-key"] = run("status", "--stack", "test")
            creds.write_text(json.dumps(stored))
        finally:
            root.removeHandler(capture)
            for name, level in levels.items():
                logging.getLogger(name or None).setLevel(level)
    result.logs = capture.records
    return result


def test_the_run_did_what_it_should(full_run: FullRun) -> None:
    """The scan below covers real work: both workloads ran, outputs came down, every path was taken."""
    o = full_run.outputs
    assert o["apply"].exit_code == 1, o["apply"].output
    assert f"{full_run.ok}: all 4 tasks succeeded" in o["apply"].output
    assert "task boom: exit code 3" in o["apply"].output and "stderr of a failing task" in o["apply"].output
    assert (full_run.repo / "dl" / full_run.ok / "dump" / "env.txt").is_file()
    assert "AZ_BATCH_TASK_ID=dump" in o["logs-dump"].output
    assert "stderr of a failing task" in o["logs-failed"].output
    assert o["download"].exit_code == 0 and (full_run.repo / "again" / full_run.ok / "merge" / "all.txt").is_file()
    for name in ("plan", "status", "status-json", "expand"):
        assert o[name].exit_code == 0, o[name].output
    assert o["invalid"].exit_code == 2 and o["logs-unknown-task"].exit_code == 1
    assert any(r.startswith("urllib3") for r in full_run.logs), "DEBUG logging was not captured"
    assert any(r.startswith("azure") for r in full_run.logs), "azure's DEBUG logging was not captured"


def test_wrong_keys_are_refused_in_one_sentence(full_run: FullRun) -> None:
    for name, service in (("wrong-batch-key", "Batch"), ("wrong-storage-key", "storage")):
        result = full_run.outputs[name]
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit)
        [line] = result.output.strip().splitlines()
        assert f"the {service} account refused the runner's credentials (HTTP 403" in line
        assert "credentials.json" in line
    malformed = full_run.outputs["malformed-key"]
    assert malformed.exit_code == 1 and "batchAccountKey is not a base64 account key" in malformed.output
    assert "Traceback" not in malformed.output and "not a key" not in malformed.output


def test_no_secret_in_any_output_or_log(full_run: FullRun) -> None:
    text = full_run.text()
    assert len(full_run.logs) > 50 and len(text) > 10_000
    assert not find_leaks(text, full_run.secrets)


def test_task_processes_do_not_see_the_account_key(full_run: FullRun) -> None:
    dump = full_run.repo / "dl" / full_run.ok / "dump"
    for name in ("env.txt", "environ.txt"):
        text = (dump / name).read_text()
        assert "AZ_BATCH_TASK_ID=dump" in text, text  # a real dump of the task's own environment
        assert KEY_ENV not in text and "AZURE_STORAGE_KEY" not in text
        assert not find_leaks(text, full_run.secrets), name


def test_download_refuses_a_manifest_escaping_its_folder(full_run: FullRun, local_target, clients_for,
                                                         monkeypatch) -> None:
    """The output manifest is a blob: a tampered one must not make `bigcompute download` write outside."""
    monkeypatch.chdir(full_run.repo)
    job = json.loads((full_run.repo / "dl" / full_run.ok / "manifest.json").read_text())["job"]
    outputs = clients_for(local_target).container("outputs")
    original = outputs.download_blob(f"{job}/manifest.json").readall()
    body = json.loads(original)
    body["tasks"]["dump"].append({"path": "../../../escaped.txt", "size": 3, "md5": None})
    outputs.upload_blob(f"{job}/manifest.json", json.dumps(body).encode(), overwrite=True)
    try:
        result = run("download", full_run.ok, "--stack", "test", "--to", "third", "--all")
    finally:
        outputs.upload_blob(f"{job}/manifest.json", original, overwrite=True)
    assert result.exit_code == 1, result.output
    assert "outside" in result.output and "Traceback" not in result.output
    assert not list(full_run.repo.parent.rglob("escaped.txt"))
    shutil.rmtree(full_run.repo / "third", ignore_errors=True)


def persisted_text(full_run: FullRun, batch, emulator, azurite, containers) -> dict[str, str]:
    """Everything the run left behind, by where it lives: the Batch definitions (jobs with their metadata, tasks)
    as the SDK reads them back, every row of the emulator's database, every blob's name and content, every file
    of the emulator's data folder, of Azurite's and of the repository's .bigcompute/ but credentials.json (the one
    place the keys belong)."""
    found: dict[str, str] = {}
    ours = [j for j in batch.list_jobs() if any(x.value in (full_run.ok, full_run.bad) for x in j.metadata or [])]
    assert len(ours) == 2, [j.id for j in ours]
    for job in ours:
        found[f"job {job.id}"] = json.dumps(batch.get_job(job.id).as_dict(), default=str)
        for task in batch.list_tasks(job.id):
            found[f"task {job.id}/{task.id}"] = json.dumps(task.as_dict(), default=str)
    with contextlib.closing(sqlite3.connect(f"file:{emulator.state.data_dir / 'state.db'}?mode=ro", uri=True)) as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            rows = db.execute(f'SELECT * FROM "{table}"').fetchall()  # noqa: S608 (names from sqlite_master)
            found[f"db table {table}"] = "\n".join(map(repr, rows))
    service = azurite.service()
    # the run's own containers: the session's Azurite also holds other tests' deliberately broken blobs
    for container in containers:
        client = service.get_container_client(container)
        for blob in client.list_blobs(include=["metadata"]):
            body = client.download_blob(blob.name).readall().decode("utf-8", "replace")
            found[f"blob {container}/{blob.name}"] = f"{blob.name}\n{blob.metadata}\n{body}"
    folders = [emulator.state.data_dir, azurite.location, full_run.repo / ".bigcompute"]
    for path in (p for folder in folders for p in folder.rglob("*") if p.is_file()):
        # Azurite's blob extents hold every test's blobs (this run's are read above, container by container);
        # another test's script that sets an Authorization header from a variable is no secret of this run.
        if path.name != "credentials.json" and "__blobstorage__" not in path.parts:
            found[f"file {path}"] = path.read_bytes().decode("utf-8", "replace")
    return found


def test_no_secret_in_what_a_run_persists(full_run: FullRun, local_target, clients_for, process_emulator, azurite):
    """Not what is shown but what stays: Batch's job and task definitions and metadata, the emulator's database,
    blobs, the local data folders."""
    stored = persisted_text(full_run, clients_for(local_target).batch, process_emulator, azurite,
                            local_target.containers.values())
    kinds = {name.split(" ")[0] for name in stored}
    assert kinds == {"job", "task", "db", "blob", "file"}, kinds
    assert sum(n.startswith("task") for n in stored) == 5  # sq1, sq2, dump, merge and boom
    assert any(n.startswith("file") and n.endswith("state.db") for n in stored) and "db table tasks" in stored
    manifest = [n for n in stored if n.startswith("blob out-") and n.endswith("/manifest.json") and full_run.ok in n]
    assert manifest, sorted(stored)
    leaks = {name: found for name, text in stored.items() if (found := find_leaks(text, full_run.secrets))}
    assert not leaks
