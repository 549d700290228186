"""Application packages on the local target: the account lists what was uploaded (ARM's part on Azure, the
emulator's own route locally), a pool's or a task's references install the package on the node, and tasks find it
through AZ_BATCH_APP_PACKAGE_* (Linux naming: `-`, `.` and `#` flattened to `_`, the id's case kept)."""

from __future__ import annotations

import io
import zipfile

import pytest
from azure.batch import models as m
from azure.batch.models._models import BatchNodeRebootOptions  # not exported by azure-batch 15.1
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from bigcompute.local.applications import package_bytes, upload
from bigcompute.local.testing import make_job, make_pool, unique, wait_for, wait_task

ARM_APPS = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Batch/batchAccounts/acct/applications/"


def _zip(files: dict[str, tuple[str, int]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, (text, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, text)
    return buffer.getvalue()


def _tool(word: str) -> bytes:
    return _zip({"bin/hello": (f"#!/bin/sh\necho {word}\n", 0o755), "data/readme.txt": (word, 0o644)})


@pytest.fixture
def apps(process_batch) -> tuple[str, str]:
    """Two applications of their own: `Hello-<x>` 1.0 and 2.0 (default 2.0), and `plain-<x>` 7 (no default)."""
    hello, plain = unique("Hello"), unique("plain")
    upload(process_batch, hello, "1.0", _tool("one"), display_name="Hello tool")
    upload(process_batch, hello, "2.0", _tool("two"), default=True)
    upload(process_batch, plain, "7", _tool("seven"))
    return hello, plain


def _env_name(app_id: str, version: str | None = None) -> str:
    name = f"AZ_BATCH_APP_PACKAGE_{app_id}" + (f"_{version}" if version else "")
    return name.replace("-", "_").replace(".", "_")


def _stdout(batch, job_id: str, task_id: str) -> str:
    return b"".join(batch.download_task_file(job_id, task_id, "stdout.txt")).decode()


def test_the_account_lists_uploaded_applications(process_batch, apps) -> None:
    hello, plain = apps
    got = process_batch.get_application(hello)
    assert (got.id, got.display_name, sorted(got.versions)) == (hello, "Hello tool", ["1.0", "2.0"])
    listed = {a.id: a for a in process_batch.list_applications()}
    assert sorted(listed[plain].versions) == ["7"]
    with pytest.raises(ResourceNotFoundError) as info:
        process_batch.get_application(unique("nothing"))
    assert info.value.error.code == "ApplicationNotFound"


def test_a_pools_packages_are_installed_for_its_tasks(process_batch, apps) -> None:
    hello, plain = apps
    refs = [m.BatchApplicationPackageReference(application_id=ARM_APPS + hello, version="1.0"),  # a pool names ARM ids
            m.BatchApplicationPackageReference(application_id=hello),  # the default version, 2.0
            m.BatchApplicationPackageReference(application_id=plain, version="7")]
    pool_id = make_pool(process_batch, nodes=1, application_package_references=refs)
    job_id = make_job(process_batch, pool_id)
    v1, default, seven = _env_name(hello, "1.0"), _env_name(hello), _env_name(plain, "7")
    command = (f"/bin/sh -c '\"${v1}/bin/hello\" && \"${default}/bin/hello\" && cat \"${seven}/data/readme.txt\" "
               f"&& echo && echo ${v1}'")
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="use", command_line=command))
    task = wait_task(process_batch, job_id, "use")
    out = _stdout(process_batch, job_id, "use").split()
    assert task.execution_info.exit_code == 0, out
    assert out[:3] == ["one", "two", "seven"]
    # Batch's layout: the package is extracted under the node's applications folder.
    assert out[3].endswith(f"/applications/{hello}#1.0")


def test_a_tasks_own_package_is_installed_and_a_bad_reference_fails_the_task(process_batch, apps) -> None:
    hello, plain = apps
    job_id = make_job(process_batch, make_pool(process_batch, nodes=1))
    own = [m.BatchApplicationPackageReference(application_id=hello, version="2.0")]
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(
        id="own", command_line=f"/bin/sh -c '\"${_env_name(hello, '2.0')}/bin/hello\"'",
        application_package_references=own))
    # "If this is omitted on a Task, and no default version is specified for this application, the Task fails
    # with a pre-processing error" (BatchApplicationPackageReference.version).
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(
        id="nodefault", command_line="/bin/true",
        application_package_references=[m.BatchApplicationPackageReference(application_id=plain)]))
    assert wait_task(process_batch, job_id, "own").execution_info.exit_code == 0
    assert _stdout(process_batch, job_id, "own").strip() == "two"
    failed = wait_task(process_batch, job_id, "nodefault").execution_info
    assert failed.result == "failure" and failed.failure_info.category == "usererror"
    assert "no default version" in failed.failure_info.message


@pytest.mark.parametrize("ref", [{"version": "9.9"}, {}, {"application_id": "no-such-app"}],
                         ids=["unknown-version", "no-default", "unknown-application"])
def test_a_pool_reference_that_does_not_resolve_is_refused(process_batch, apps, ref) -> None:
    """Batch refuses a pool whose reference names no package, or no version when the application has no
    default: 409 InvalidApplicationPackageReferences (BatchApplicationPackageReference.version)."""
    _, plain = apps
    refs = [m.BatchApplicationPackageReference(**{"application_id": plain, **ref})]
    with pytest.raises(HttpResponseError) as info:
        make_pool(process_batch, nodes=0, application_package_references=refs)
    assert (info.value.status_code, info.value.error.code) == (409, "InvalidApplicationPackageReferences")


def test_an_upload_must_be_a_zip_and_a_folder_is_zipped_with_its_modes(process_batch, tmp_path) -> None:
    with pytest.raises(HttpResponseError) as info:
        upload(process_batch, unique("app"), "1", b"not a zip")
    assert info.value.status_code == 400
    for app_id, version in (("bad.name", "1"), (unique("app"), ".hidden")):  # ARM's application/version names
        with pytest.raises(HttpResponseError) as info:
            upload(process_batch, app_id, version, _tool("x"))
        assert (info.value.status_code, info.value.error.code) == (400, "InvalidPropertyValue")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "run").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "run").chmod(0o755)
    with zipfile.ZipFile(io.BytesIO(package_bytes(tmp_path))) as archive:
        assert (archive.getinfo("bin/run").external_attr >> 16) & 0o777 == 0o755


def test_a_pools_new_references_reach_a_node_when_it_reboots(process_batch, apps) -> None:
    """"Changes to Package references affect all new Nodes joining the Pool, but do not affect Compute Nodes that
    are already in the Pool until they are rebooted or reimaged" (BatchPoolSpecification)."""
    hello, _ = apps
    pool_id = make_pool(process_batch, nodes=1)
    job_id = make_job(process_batch, pool_id)
    probe = f"/bin/sh -c 'echo ${{{_env_name(hello, '1.0')}:-none}}'"
    process_batch.update_pool(pool_id, m.BatchPoolUpdateOptions(
        application_package_references=[m.BatchApplicationPackageReference(application_id=hello, version="1.0")]))
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="before", command_line=probe))
    wait_task(process_batch, job_id, "before")
    assert _stdout(process_batch, job_id, "before").strip() == "none"
    [node] = process_batch.list_nodes(pool_id)
    process_batch.begin_reboot_node(pool_id, node.id, BatchNodeRebootOptions(node_reboot_kind="requeue"),
                                    polling_interval=0).result()
    wait_for(lambda: process_batch.get_node(pool_id, node.id).state == "idle")
    process_batch.create_task(job_id, m.BatchTaskCreateOptions(id="after", command_line=probe))
    wait_task(process_batch, job_id, "after")
    assert _stdout(process_batch, job_id, "after").strip().endswith(f"/applications/{hello}#1.0")
