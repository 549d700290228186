"""Downloads never leave their folder; two applies of one workload never run at once."""

from __future__ import annotations

import uuid

import pytest

from bigcompute.runner.download import download, list_outputs, manifest, safe_destination
from bigcompute.runner.errors import DeployError, LeaseHeld
from bigcompute.runner.lease import workload_lease


@pytest.mark.parametrize("name", ["../escape.txt", "t/../../escape.txt", "/etc/passwd", "t/..\\..\\x", "."])
def test_destinations_outside_the_folder_are_refused(tmp_path, name):
    with pytest.raises(DeployError, match="outside"):
        safe_destination(tmp_path / "out", name)


def test_nested_names_stay_inside(tmp_path):
    assert safe_destination(tmp_path, "t1/a/b.txt") == (tmp_path / "t1" / "a" / "b.txt").resolve()


def test_download_refuses_a_backslash_blob_name(clients, tmp_path):
    outputs = clients.container("outputs")
    job = f"job-{uuid.uuid4().hex[:6]}"
    outputs.upload_blob(f"{job}/t1/ok.txt", b"fine")
    outputs.upload_blob(f"{job}/t1/..\\..\\escaped.txt", b"evil")
    with pytest.raises(DeployError, match="outside"):
        download(outputs, job, manifest(job, list_outputs(outputs, job)), tmp_path / "downloads" / "w")
    assert not any(tmp_path.rglob("*escaped*"))


def test_download_refuses_a_tampered_manifest(clients, tmp_path):
    """The manifest is a blob anyone with write access to outputs could edit: its paths are not trusted."""
    outputs = clients.container("outputs")
    job = f"job-{uuid.uuid4().hex[:6]}"
    outputs.upload_blob(f"{job}/t1/ok.txt", b"fine")
    body = {"job": job, "tasks": {"t1": [{"path": "../../../escaped.txt", "size": 4, "md5": None}]}}
    with pytest.raises(DeployError, match="outside"):
        download(outputs, job, body, tmp_path / "downloads" / "w")
    assert not any(tmp_path.rglob("escaped.txt"))


def test_second_apply_of_a_workload_is_told_who_holds_it(clients):
    inputs = clients.container("inputs")
    name = f"leased-{uuid.uuid4().hex[:6]}"
    held = rf"workload {name} is being applied by \S+@\S+:\d+ since"
    with workload_lease(inputs, name), pytest.raises(LeaseHeld, match=held), workload_lease(inputs, name):
        pass
    with workload_lease(inputs, name):  # released on exit: the next apply gets it
        pass
