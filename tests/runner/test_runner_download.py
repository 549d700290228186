"""Downloads are never stale and never mix two jobs: every file is checked against the SHA-256 its manifest
records, and the folder's record of its job decides what may be skipped and what must go."""

from __future__ import annotations

import json
import uuid

import pytest
from azure.storage.blob import ContentSettings

from bigcompute.runner.download import MANIFEST, download, read_manifest, write_manifest
from bigcompute.runner.errors import DeployError
from tests.runner.conftest import write_workload
from tests.runner.test_runner_cli import run

BIG = 1_200_000  # over 1 MiB: Azurite, like Azure, stores no MD5 for a blob uploaded in blocks


def job_with(outputs, files: dict[str, bytes]) -> str:
    job = f"job-{uuid.uuid4().hex[:6]}"
    for rel, data in files.items():
        outputs.upload_blob(f"{job}/{rel}", data)
    write_manifest(outputs, job)
    return job


def as_block_upload(outputs, job: str) -> None:
    """Drop the blobs' Content-MD5, as Azure leaves it for outputs uploaded in blocks (over 64 MiB, like the
    65 MiB output that stayed stale), and rewrite the job's manifest the way `apply --wait` does."""
    for blob in outputs.list_blobs(name_starts_with=f"{job}/"):
        # Set Blob Properties clears every header it is not given, Content-MD5 included:
        # https://learn.microsoft.com/rest/api/storageservices/set-blob-properties
        outputs.get_blob_client(blob.name).set_http_headers(ContentSettings())
    write_manifest(outputs, job)


def fetch(outputs, job: str, folder):
    return download(outputs, job, read_manifest(outputs, job), folder)


def test_a_new_job_replaces_stale_bytes_of_the_same_size(repo, local_files, clients):
    name = f"stale-{uuid.uuid4().hex[:6]}"
    (repo / "workloads" / "prog").mkdir()
    (repo / "workloads" / "prog" / "big.sh").write_text(
        f"mkdir -p out; head -c {BIG} /dev/zero | tr '\\000' \"$1\" > out/big.bin\n"
        "[ \"$1\" = a ] && echo only in the first job > out/extra.txt; true\n")
    path = write_workload(repo, name, "inputs: [prog/big.sh]\ntasks:\n  - {id: big, command: sh prog/big.sh a, "
                                      "outputs: [out/*]}\n")
    assert run("apply", "--stack", "test", "--wait", "--poll-interval", "0.2").exit_code == 0
    outputs = clients.container("outputs")
    as_block_upload(outputs, json.loads(run("plan", "--stack", "test", "--format", "json").output)
                    ["workloads"][0]["job"])
    first = run("download", name, "--stack", "test", "--to", "fetched", "--all")
    assert first.exit_code == 0, first.output
    folder = repo / "fetched" / name
    assert (folder / "big" / "big.bin").read_bytes() == b"a" * BIG
    (folder / "notes.txt").write_text("my own notes")
    (folder / "big" / "mine.txt").write_text("mine too")

    path.write_text(path.read_text().replace("big.sh a", "big.sh b"))
    assert run("apply", "--stack", "test", "--wait", "--poll-interval", "0.2").exit_code == 0
    job = json.loads(run("plan", "--stack", "test", "--format", "json").output)["workloads"][0]["job"]
    as_block_upload(outputs, job)
    assert all(f["md5"] is None for f in read_manifest(outputs, job)["tasks"]["big"])
    second = run("download", name, "--stack", "test", "--to", "fetched", "--all")
    assert second.exit_code == 0, second.output
    assert (folder / "big" / "big.bin").read_bytes() == b"b" * BIG
    assert not (folder / "big" / "extra.txt").exists()
    assert "removed 1 file(s) of an earlier job that job " in second.output and "big/extra.txt" in second.output
    assert (folder / "notes.txt").read_text() == "my own notes" and (folder / "big" / "mine.txt").exists()
    record = json.loads((folder / MANIFEST).read_text())
    assert record["job"] == job
    assert "big/big.bin" in record["downloaded"] and "big/extra.txt" not in record["downloaded"]
    stored = read_manifest(outputs, job)
    assert all(len(f["sha256"]) == 64 for f in stored["tasks"]["big"])  # written back for later downloads


def test_a_blob_changed_after_its_hash_was_recorded_fails_naming_the_file(clients, tmp_path):
    outputs = clients.container("outputs")
    job = job_with(outputs, {"t1/result.bin": b"x" * BIG, "t1/ok.txt": b"fine"})
    assert fetch(outputs, job, tmp_path / "first").fetched == 2
    outputs.upload_blob(f"{job}/t1/result.bin", b"y" * BIG, overwrite=True)  # same size, other bytes
    write_manifest(outputs, job)  # a later `apply --wait` rewrites the manifest: the recorded hash stays

    with pytest.raises(DeployError, match=r"output t1/result.bin: its SHA-256 \w+… differs from the manifest's"):
        fetch(outputs, job, tmp_path / "second")
    assert not (tmp_path / "second" / "t1" / "result.bin").exists()
    assert not list((tmp_path / "second").rglob("*.partial"))
    older = tmp_path / "older"  # a folder holding an earlier job's file of that name: it goes too
    (older / "t1").mkdir(parents=True)
    (older / "t1" / "result.bin").write_bytes(b"z" * BIG)
    with pytest.raises(DeployError, match="t1/result.bin"):
        fetch(outputs, job, older)
    assert not (older / "t1" / "result.bin").exists()


def test_a_blob_of_another_size_than_the_manifest_says_fails(clients, tmp_path):
    outputs = clients.container("outputs")
    job = job_with(outputs, {"t1/result.txt": b"short"})
    body = read_manifest(outputs, job)
    body["tasks"]["t1"][0]["size"] = 99
    with pytest.raises(DeployError, match="output t1/result.txt: downloaded 5 bytes where the manifest says 99"):
        download(outputs, job, body, tmp_path / "w")
    assert not list((tmp_path / "w").rglob("result.txt*"))


def test_files_of_the_same_job_are_skipped_only_when_unchanged(clients, tmp_path):
    outputs = clients.container("outputs")
    job = job_with(outputs, {"t1/a.txt": b"alpha", "t1/b.txt": b"bravo"})
    folder = tmp_path / "w"
    assert fetch(outputs, job, folder).fetched == 2
    assert fetch(outputs, job, folder).fetched == 0
    (folder / "t1" / "a.txt").write_bytes(b"ALPHA")  # same size, edited locally
    again = fetch(outputs, job, folder)
    assert again.fetched == 1 and (folder / "t1" / "a.txt").read_bytes() == b"alpha"


def test_a_new_job_removes_only_the_files_the_record_names(clients, tmp_path):
    outputs = clients.container("outputs")
    folder = tmp_path / "w"
    old = job_with(outputs, {"t1/a.txt": b"old a", "t1/b.txt": b"old b", "t2/c.txt": b"old c"})
    fetch(outputs, old, folder)
    (folder / "t1" / "mine.txt").write_text("user's")
    (folder / "own.txt").write_text("user's")
    new = job_with(outputs, {"t1/a.txt": b"new a"})

    done = fetch(outputs, new, folder)
    assert done.removed == ["t1/b.txt", "t2/c.txt"]
    assert (folder / "t1" / "a.txt").read_bytes() == b"new a"
    assert not (folder / "t2").exists()  # emptied by the removal
    assert (folder / "t1" / "mine.txt").exists() and (folder / "own.txt").exists()
    assert json.loads((folder / MANIFEST).read_text())["job"] == new


def test_a_record_pointing_outside_the_folder_is_never_followed(clients, tmp_path):
    outputs = clients.container("outputs")
    folder = tmp_path / "w"
    folder.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (folder / MANIFEST).write_text(json.dumps({"job": "earlier", "tasks": {}, "downloaded": ["../victim.txt"]}))
    fetch(outputs, job_with(outputs, {"t1/a.txt": b"a"}), folder)
    assert victim.read_text() == "keep me"
