"""Inputs verified on the node (issue 13, Medium 7), end to end on the local target: anyone with Azurite's
public development key can replace an input blob; the next run that uses it must refuse to execute it."""

from __future__ import annotations

import uuid

from azure.storage.blob import BlobServiceClient

from bigcompute.local.azurite import DEV_ACCOUNT, DEV_KEY
from bigcompute.runner.apply import apply_workload
from bigcompute.runner.monitor import watch
from bigcompute.runner.plan import make_plan
from bigcompute.runner.session import load_inputs
from bigcompute.workload.wire import CHECKSUMS_PATH
from tests.runner.conftest import write_workload

WORKLOAD = """\
inputs: [prog/*.sh]
env: {{RUN: "{run}"}}
tasks:
  - id: t{{i}}
    command: sh prog/work.sh {{i}}
    sweep: {{i: {{start: 0, stop: 2}}}}
    outputs: [out/*.txt]
"""


def _apply(clients, repo, name: str, run: str):
    write_workload(repo, name, WORKLOAD.format(run=run))
    _, loaded = load_inputs(["workloads"], "test")
    [wp] = make_plan(clients, loaded, quota=50).workloads
    apply_workload(clients, wp)
    return wp, watch(clients.batch, wp.job_id, total=2, interval=0.2, timeout=60)


def test_a_tampered_input_blob_is_refused_on_the_node(repo, clients, local_target, tmp_path):
    pwned = tmp_path / "pwned"
    (repo / "workloads" / "prog").mkdir()
    (repo / "workloads" / "prog" / "work.sh").write_text("mkdir -p out; echo $1 > out/n.txt\n")
    name = f"integrity-{uuid.uuid4().hex[:6]}"
    first, progress = _apply(clients, repo, name, "1")
    assert (progress.succeeded, progress.failed) == (2, 0)  # untampered inputs run
    inputs = clients.container("inputs")
    [blob] = [b.name for b in inputs.list_blobs(name_starts_with=f"{name}/") if b.name.endswith("prog/work.sh")]
    assert [b.name for b in inputs.list_blobs(name_starts_with=f"{name}/") if b.name.endswith(CHECKSUMS_PATH)]

    # The attacker: only Azurite's well-known key, replacing the content-addressed blob's bytes in place.
    service = BlobServiceClient(local_target.blob_endpoint, credential={"account_name": DEV_ACCOUNT,
                                                                       "account_key": DEV_KEY})
    service.get_container_client(local_target.containers["inputs"]).upload_blob(
        blob, f"touch {pwned}\n".encode(), overwrite=True)

    # A changed spec with the same input content: a new job whose tasks download the same (replaced) blob.
    second, progress = _apply(clients, repo, name, "2")
    assert second.job_id != first.job_id and not second.sync.missing
    assert (progress.succeeded, progress.failed) == (0, 2)
    task = clients.batch.get_task(second.job_id, "t0")
    assert task.execution_info.exit_code == 1
    stderr = b"".join(clients.batch.download_task_file(second.job_id, "t0", "stderr.txt")).decode()
    assert stderr == "bigcompute: input prog/work.sh does not match its digest; refusing to run\n"
    assert not pwned.exists()
    assert not list(clients.container("outputs").list_blobs(name_starts_with=f"{second.job_id}/t0/n.txt"))
