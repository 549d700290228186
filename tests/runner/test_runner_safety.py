"""Downloads never leave their folder; two applies of one workload never run at once."""

from __future__ import annotations

import uuid

import pytest

from bigcompute.runner.download import download, list_outputs, manifest, safe_destination
from bigcompute.runner.errors import DeployError, LeaseHeld, LeaseLost
from bigcompute.runner.lease import workload_lease


@pytest.mark.parametrize("name", ["../escape.txt", "t/../../escape.txt", "/etc/passwd", "t/..\\..\\x", "."])
def test_destinations_outside_the_folder_are_refused(tmp_path, name):
    with pytest.raises(DeployError, match="outside"):
        safe_destination(tmp_path / "out", name)


def test_nested_names_stay_inside(tmp_path):
    assert safe_destination(tmp_path, "t1/a/b.txt") == (tmp_path / "t1" / "a" / "b.txt").resolve()


def test_download_refuses_a_blob_name_whose_backslashes_storage_made_slashes(clients, tmp_path):
    """Storage turns the backslashes of a blob's name into slashes (t1/..\\..\\x is kept as t1/../../x), so such
    a name meets the `..` check."""
    outputs = clients.container("outputs")
    job = f"job-{uuid.uuid4().hex[:6]}"
    outputs.upload_blob(f"{job}/t1/ok.txt", b"fine")
    outputs.upload_blob(f"{job}/t1/..\\..\\escaped.txt", b"evil")
    assert f"{job}/t1/../../escaped.txt" in [b.name for b in outputs.list_blobs(name_starts_with=job)]
    with pytest.raises(DeployError, match="outside"):
        download(outputs, job, manifest(job, list_outputs(outputs, job)), tmp_path / "downloads" / "w")
    assert not any(tmp_path.rglob("*escaped*"))


def test_download_refuses_a_backslash_in_a_manifest_path(clients, tmp_path):
    """A manifest path with backslashes: on Linux `a\\..\\..\\escaped.txt` would be one odd file name inside
    the folder, on Windows a climb out of it; only the backslash check stands between the two, and refuses it."""
    outputs = clients.container("outputs")
    job = f"job-{uuid.uuid4().hex[:6]}"
    outputs.upload_blob(f"{job}/t1/ok.txt", b"fine")
    body = {"job": job, "tasks": {"t1": [{"path": "ok.txt", "size": 4, "md5": None},
                                         {"path": "a\\..\\..\\escaped.txt", "size": 4, "md5": None}]}}
    with pytest.raises(DeployError, match="outside"):
        download(outputs, job, body, tmp_path / "downloads" / "w")
    assert not any(tmp_path.rglob("*"))  # every name is checked before the first write


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


@pytest.fixture
def quick_renewal(monkeypatch):
    """Renew every 50 ms, and an event set when the renewer gives the lease up (it logs why)."""
    import threading

    from bigcompute.runner import lease as lease_module

    given_up = threading.Event()
    monkeypatch.setattr(lease_module, "RENEW_EVERY", 0.05)
    monkeypatch.setattr(lease_module.log, "warning", lambda *args: given_up.set())
    return given_up


def _take_over(container, name: str):
    """What another apply does to a stuck lease: break it and take it."""
    from azure.storage.blob import BlobLeaseClient

    other = BlobLeaseClient(container.get_blob_client(f".locks/{name}"))
    other.break_lease(lease_break_period=0)
    other.acquire(lease_duration=15)
    return other


def test_a_lease_broken_from_outside_is_noticed_not_ignored(clients, quick_renewal):
    inputs = clients.container("inputs")
    name = f"broken-{uuid.uuid4().hex[:6]}"
    with workload_lease(inputs, name) as held:
        held.check("anything")  # still ours
        other = _take_over(inputs, name)
        assert quick_renewal.wait(10), "the renewer never reported the failed renewal"
        with pytest.raises(LeaseLost, match=rf"the lease on workload {name} was lost \(renewal refused: HTTP 409 "
                                            r"\w+\), so another apply may hold it now; stopped before uploading"):
            held.check("uploading")
    other.release()


def test_apply_stops_before_its_next_side_effect_once_the_lease_is_lost(repo, local_files, clients, quick_renewal):
    from bigcompute.runner.apply import Hooks, apply_workload
    from bigcompute.runner.plan import make_plan
    from bigcompute.workload import load_workload
    from tests.runner.conftest import write_workload

    name = f"stolen-{uuid.uuid4().hex[:6]}"
    (repo / "workloads" / "data").mkdir()
    (repo / "workloads" / "data" / "a.txt").write_text("a")
    loaded = load_workload(write_workload(repo, name, "inputs: [data/a.txt]\ntasks:\n  - {id: a, command: x}\n"))
    [wp] = make_plan(clients, [loaded], 50).workloads
    taken = []

    def step(message: str) -> None:
        if message.startswith("uploading"):  # another apply takes the lease just before the upload
            taken.append(_take_over(clients.container("inputs"), name))
            assert quick_renewal.wait(10)

    with pytest.raises(LeaseLost, match="stopped before uploading inputs"):
        apply_workload(clients, wp, Hooks(step=step))
    taken[0].release()
    assert not list(clients.container("inputs").list_blobs(name_starts_with=f"{name}/"))
    assert not [j for j in clients.batch.list_jobs() if j.id.startswith(f"{name}-")]


def test_an_apply_killed_right_after_taking_the_lease_is_found_dead_and_taken_over(clients, azurite):
    """The kill point between acquiring the lease and writing the holder's name into it: the next apply must
    still know the holder (named before the lease was taken) and find it dead, not wait on "another apply"."""
    import subprocess
    import sys
    import textwrap

    inputs = clients.container("inputs")
    name = f"killed-{uuid.uuid4().hex[:6]}"
    child = textwrap.dedent(f"""
        import os
        from azure.storage.blob import ContainerClient
        from bigcompute.runner import lease
        taken = lease.BlobLeaseClient.acquire
        def acquire_then_die(self, *args, **kwargs):
            taken(self, *args, **kwargs)
            os._exit(9)  # killed before the holder names itself under the lease
        lease.BlobLeaseClient.acquire = acquire_then_die
        container = ContainerClient.from_connection_string({azurite.connection_string!r}, {inputs.container_name!r})
        with lease.workload_lease(container, {name!r}):
            raise SystemExit("the lease was taken and the child lived on")
    """)
    died = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert died.returncode == 9, died.stderr
    lock = inputs.get_blob_client(f".locks/{name}").get_blob_properties()
    assert lock.lease.state == "leased"  # the dead child's lease is still there
    with workload_lease(inputs, name) as held:
        held.check("uploading")
