"""Storage beyond the workload's files, end to end on the local target (issue 16, items 1, 2, 4): blob inputs
from another container, https URL inputs whose SHA-256 the node checks, outputs sent to another container
under a path template, and one task per blob of a prefix listed at plan time. What the target cannot serve is
refused at plan time, located, exit 2, before anything is created."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import ssl
import threading
import uuid
from pathlib import Path

import pytest

from bigcompute.runner.apply import apply_workload
from bigcompute.runner.clients import Clients
from bigcompute.runner.monitor import watch
from bigcompute.runner.plan import make_plan
from bigcompute.runner.session import InvalidInput, load_inputs
from bigcompute.runner.storage import check_reach
from bigcompute.runner.target import Target
from bigcompute.workload import load_workload
from tests.conftest import run_cli as run
from tests.runner.conftest import write_workload

TOOL = b"#!/bin/sh\necho solver 1.0\n"


def _plan(clients):
    _, loaded = load_inputs(["workloads"], "test")
    [wp] = make_plan(clients, loaded, quota=50).workloads
    return wp


def _apply_and_wait(clients, wp, timeout: float = 60):
    apply_workload(clients, wp)
    return watch(clients.batch, wp.job_id, total=wp.task_count, interval=0.2, timeout=timeout)


def _container(azurite, prefix: str):
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    azurite.service().create_container(name)
    return name, azurite.service().get_container_client(name)


@pytest.fixture(scope="module")
def https_files(tls, tmp_path_factory):
    """An https server on 127.0.0.1 serving a folder, with a certificate the node (the emulator) trusts."""
    folder = tmp_path_factory.mktemp("https-files")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def trusted(tls, monkeypatch):
    # the emulator's node downloads httpUrl resource files with requests, which reads this bundle
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls[0])


def test_inputs_from_another_container_and_an_https_url_reach_every_task(repo, clients, azurite, https_files,
                                                                        trusted):
    folder, base = https_files
    (folder / "solver.sh").write_bytes(TOOL)
    reference, ref_client = _container(azurite, "ref")
    ref_client.upload_blob("genome/chr1.fa", b">chr1\nACGT\n")
    ref_client.upload_blob("genome/chr2.fa", b">chr2\nTTGA\n")
    name = f"anywhere-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, f"""\
        inputs:
          - {{blob: genome/, container: {reference}, to: ref}}
          - {{url: '{base}/solver.sh', to: bin, sha256: {hashlib.sha256(TOOL).hexdigest()}}}
        tasks:
          - id: t{{i}}
            command: sh bin/solver.sh > out{{i}}.txt && cat ref/genome/chr1.fa ref/genome/chr2.fa >> out{{i}}.txt
            sweep: {{i: {{values: [0, 1]}}}}
            outputs: ['out{{i}}.txt']
        """)
    wp = _plan(clients)
    assert wp.sync.checksums_missing  # the URL's digest travels in the checksum list the tasks verify
    progress = _apply_and_wait(clients, wp)
    assert (progress.succeeded, progress.failed) == (2, 0)
    outputs = clients.container("outputs")
    for i in range(2):
        got = outputs.download_blob(f"{wp.job_id}/t{i}/out{i}.txt").readall()
        assert got == b"solver 1.0\n>chr1\nACGT\n>chr2\nTTGA\n"


def test_a_url_whose_bytes_differ_from_its_sha256_fails_the_task_before_its_command(repo, clients, https_files,
                                                                                     trusted):
    folder, base = https_files
    (folder / "tampered.sh").write_bytes(b"#!/bin/sh\necho evil\n")
    name = f"urlbad-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, f"""\
        inputs: [{{url: '{base}/tampered.sh', sha256: {hashlib.sha256(TOOL).hexdigest()}}}]
        tasks:
          - {{id: a, command: 'sh tampered.sh > ran.txt', outputs: [{{pattern: ran.txt, when: always}}]}}
        """)
    wp = _plan(clients)
    progress = _apply_and_wait(clients, wp)
    assert (progress.succeeded, progress.failed) == (0, 1)
    outputs = clients.container("outputs")
    stderr = outputs.download_blob(f"{wp.job_id}/a/logs/stderr.txt").readall().decode()
    assert "bigcompute: input tampered.sh does not match its digest; refusing to run" in stderr
    assert not list(outputs.list_blobs(name_starts_with=f"{wp.job_id}/a/ran.txt"))  # the command never ran


def test_outputs_go_to_their_destination_with_relative_paths_and_conditions(repo, clients, azurite):
    results, res_client = _container(azurite, "res")
    name = f"dest-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, f"""\
        tasks:
          - id: s{{seed}}
            command: >-
              mkdir -p results/deep && echo {{seed}} > results/deep/v.txt && echo meta > meta.json &&
              echo why > why.txt && test {{seed}} -lt 2
            sweep: {{seed: {{values: [1, 2]}}}}
            outputs:
              - {{pattern: 'results/**/*.txt', container: {results}, path: '{{workload}}/{{job}}/seed-{{seed}}'}}
              - {{pattern: meta.json, when: always, container: {results}, path: 'meta/{{task}}'}}
              - {{pattern: why.txt, when: failure, container: {results}, path: failed}}
        """)
    wp = _plan(clients)
    progress = _apply_and_wait(clients, wp)
    assert (progress.succeeded, progress.failed) == (1, 1)
    names = sorted(b.name for b in res_client.list_blobs())
    assert names == [f"{name}/{wp.job_id}/seed-1/results/deep/v.txt",  # success only: seed 2 failed
                     "failed/why.txt",  # failure only: from s2
                     "meta/s1/meta.json", "meta/s2/meta.json"]  # always
    assert res_client.download_blob(f"{name}/{wp.job_id}/seed-1/results/deep/v.txt").readall() == b"1\n"


def test_one_task_per_blob_listed_at_plan_time_and_new_blobs_are_a_new_job(repo, local_files, clients, azurite):
    media, media_client = _container(azurite, "media")
    for clip in ("raw/a.mp4", "raw/sub/b c.mp4", "raw/notes.txt"):
        media_client.upload_blob(clip, f"frames of {clip}".encode())
    name = f"perblob-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, f"""\
        tasks:
          - id: 'v{{index}}'
            command: wc -c < {{file}} > {{stem}}.len && echo {{name}} > name.txt
            foreach: {{blobs: raw/, container: {media}, match: 'raw/**.mp4', to: in}}
            outputs: ['*.len', name.txt]
        """)
    first = _plan(clients)
    assert first.task_count == 2
    progress = _apply_and_wait(clients, first)
    assert (progress.succeeded, progress.failed) == (2, 0)
    outputs = clients.container("outputs")
    assert outputs.download_blob(f"{first.job_id}/v0/a.len").readall().strip() == b"19"
    assert outputs.download_blob(f"{first.job_id}/v1/b c.len").readall().strip() == b"25"
    assert outputs.download_blob(f"{first.job_id}/v1/name.txt").readall() == b"b c.mp4\n"
    assert _plan(clients).status == "unchanged"

    media_client.upload_blob("raw/d.mp4", b"new")
    second = _plan(clients)
    assert (second.status, second.task_count, second.supersedes) == ("changed", 3, (first.job_id,))
    shown = run("plan", "--stack", "test", "--format", "markdown")
    assert f"| {name} | `{second.job_id}` | changed, supersedes {first.job_id} | 3 |" in shown.output


def _refused(repo, clients, path: Path) -> tuple:
    """`plan` refuses with one located diagnostic; `apply` exits 2 and creates nothing."""
    jobs_before = {j.id for j in clients.batch.list_jobs()}
    blobs_before = {b.name for b in clients.container("inputs").list_blobs()}
    with pytest.raises(InvalidInput) as e:
        _plan(clients)
    [problem] = e.value.diagnostics
    applied = run("apply", "--stack", "test", "--yes")
    assert applied.exit_code == 2, applied.output
    assert f"{path.relative_to(repo)}:{problem.line}:{problem.column}: " in applied.output
    assert "nothing was changed" in applied.output
    assert {j.id for j in clients.batch.list_jobs()} == jobs_before
    assert {b.name for b in clients.container("inputs").list_blobs()} == blobs_before
    return problem.line, problem.column, problem.message


def test_a_foreach_prefix_that_lists_nothing_is_refused_before_anything_is_created(repo, local_files, clients,
                                                                                   azurite):
    media, media_client = _container(azurite, "media")
    media_client.upload_blob("raw/notes.txt", b"not a clip")
    path = write_workload(repo, f"noblob-{uuid.uuid4().hex[:6]}", f"""\
        tasks:
          - id: 'v{{index}}'
            command: x {{file}}
            foreach: {{blobs: raw/, container: {media}, match: '*.mp4'}}
        """)
    line, column, message = _refused(repo, clients, path)
    assert (line, column) == (8, 22)
    assert f"blob prefix 'raw/' matching '*.mp4' lists no blob in container '{media}'" in message


def test_another_accounts_container_is_refused_on_the_local_target(repo, local_files, clients):
    path = write_workload(repo, f"foreign-{uuid.uuid4().hex[:6]}", """\
        tasks:
          - id: a
            command: x
            outputs: [{pattern: a.txt, container: 'https://partner.blob.core.windows.net/drop'}]
        """)
    line, column, message = _refused(repo, clients, path)
    assert (line, column) == (8, 43)
    assert "another storage account, which the local target cannot reach" in message
    assert "write the container's name ('drop')" in message


def test_another_accounts_container_needs_the_stacks_identity(repo, local_target: Target):
    path = write_workload(repo, "noidentity", """\
        inputs: [{blob: x/, container: 'https://partner.blob.core.windows.net/share'}]
        tasks:
          - id: a
            command: x
            outputs: [{pattern: a.txt, container: 'https://bcprodstc.blob.core.windows.net/results'}]
        """)
    wl = load_workload(path).workload
    azure = Target("azure", "prod", "https://b.westeurope.batch.azure.com", "b", "https://bcprodstc.blob.core.windows.net/",
                   "bcprodstc", {"inputs": "inputs", "outputs": "outputs"}, {"cpu": "cpu"}, identity_resource_id=None)
    [refusal] = check_reach(wl, Clients(None, None, azure))  # type: ignore[arg-type]
    assert refusal.at == ("inputs", 0, "container")  # the stack's own account needs no more than it has
    assert "this target's stack outputs have no identityResourceId" in str(refusal)
    with_identity = dataclasses.replace(azure, identity_resource_id="/subscriptions/s/id")
    assert check_reach(wl, Clients(None, None, with_identity)) == []  # type: ignore[arg-type]


def test_a_missing_destination_container_is_refused_before_anything_is_created(repo, local_files, clients):
    path = write_workload(repo, f"nodest-{uuid.uuid4().hex[:6]}", """\
        tasks:
          - id: a
            command: x
            outputs: [{pattern: a.txt, container: no-such-container}]
        """)
    line, column, message = _refused(repo, clients, path)
    assert (line, column) == (8, 43)
    assert "output container 'no-such-container' does not exist in the stack's storage account" in message


def test_tasks_expanded_from_a_listing_are_checked_like_any_other(repo, local_files, clients, azurite):
    media, media_client = _container(azurite, "media")
    for clip in ("day1/x.mp4", "day2/x.mp4"):  # one stem twice: `v-{stem}` names two tasks alike
        media_client.upload_blob(clip, b"clip")
    path = write_workload(repo, f"dupblob-{uuid.uuid4().hex[:6]}", f"""\
        tasks:
          - id: 'v-{{stem}}'
            command: x {{file}}
            foreach: {{blobs: '', container: {media}}}
        """)
    line, column, message = _refused(repo, clients, path)
    assert (line, column) == (6, 9)
    assert message == "task id 'v-x' is used by more than one task (ids are case-insensitive)"


def test_a_blob_input_from_a_missing_container_is_refused_at_its_container(repo, local_files, clients):
    path = write_workload(repo, f"nosrc-{uuid.uuid4().hex[:6]}", """\
        inputs: [{blob: x/, container: no-such-source}]
        tasks: [{id: a, command: x}]
        """)
    line, column, message = _refused(repo, clients, path)
    assert (line, column, message) == (5, 32, "container 'no-such-source' does not exist")


def test_validate_says_a_blob_foreach_is_counted_by_plan(repo):
    write_workload(repo, "counted", "tasks: [{id: 'v{index}', command: x, foreach: {blobs: raw/}}]\n")
    shown = run("validate", "workloads/counted.yaml")
    assert shown.exit_code == 0, shown.output
    assert "0 tasks, 0 input files; plus one task per blob that `plan` lists" in shown.output
