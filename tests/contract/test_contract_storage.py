"""The Batch JSON of the storage features (issue 16: blob inputs from other containers and accounts, https URL
inputs, output destinations, `foreach: {blobs: …}`) against the vendored data-plane spec, as
test_contract_dataplane.py checks the shipped workloads."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

from bigcompute.runner.jobs import job_model
from bigcompute.workload import iter_tasks, load_workload
from bigcompute.workload.storage import ListedFile
from bigcompute.workload.wire import Staging, StorageContext, job_id, merge_dependencies, task_body
from tests.contract.conftest import CTX_IDENTITY, SPECS, SpecSet, body_schema
from tests.contract.test_contract_dataplane import DATA_PLANE

WORKLOAD = """\
apiVersion: bigcompute/v1
kind: Workload
name: storage
pool: cpu
inputs:
  - data.csv
  - {blob: ref/, container: reference, to: ref}
  - {blob: hg38/, container: 'https://refdata.blob.core.windows.net/genomes'}
  - {url: 'https://example.org/tools/solver.tgz', to: bin, sha256: '%s'}
tasks:
  - id: 's{seed}'
    command: run {seed}
    sweep: {seed: {values: [1, 2]}}
    outputs:
      - {pattern: 'results/*.npy', container: results, path: '{workload}/{job}/seed-{seed}'}
      - {pattern: summary.json, when: always, container: 'https://pub.blob.core.windows.net/shared'}
  - id: 'v-{stem}'
    command: convert {file}
    foreach: {blobs: raw/, container: media, match: '**/*.mp4', to: in}
    outputs: [{pattern: '*.webm', when: failure, path: 'videos/{stem}'}]
merge:
  command: cat
  outputs: [{pattern: 'final/*.csv', path: '{workload}/latest'}]
""" % ("ab" * 32)


def test_storage_features_render_to_bodies_the_data_plane_spec_accepts(tmp_path: Path,
                                                                         official_specs: SpecSet) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "data.csv").write_text("x\n")
    (tmp_path / "w.yaml").write_text(textwrap.dedent(WORKLOAD))
    lw = load_workload(tmp_path / "w.yaml")
    listing = (ListedFile("in/raw/a.mp4", "raw/a.mp4", "media", 3, "md5:00"),)
    wl = dataclasses.replace(lw.workload, listings={1: listing})
    digests = {f.relpath: "0" * 64 for f in lw.files}
    ctx = StorageContext("https://acct.blob.core.windows.net/inputs", "https://acct.blob.core.windows.net/outputs",
                         CTX_IDENTITY)
    tasks = list(iter_tasks(wl, lw.files))
    deps = merge_dependencies(t.id for t in tasks if not t.is_merge)
    job = job_id(wl, digests)
    stage = Staging.of(wl, digests, lw.files)
    bodies = [task_body(t, wl, job, ctx, digests, deps if t.is_merge else None, stage) for t in tasks]
    assert [b["id"] for b in bodies] == ["s1", "s2", "v-a", "merge"]
    kinds = {k for b in bodies for r in b.get("resourceFiles", []) for k in r if k in ("httpUrl", "storageContainerUrl")}
    assert kinds == {"httpUrl", "storageContainerUrl"}  # the listed blob; the merge task's view of the outputs
    schema = body_schema(SPECS, DATA_PLANE, "Tasks_CreateTaskCollection")
    assert official_specs.errors(schema, {"value": bodies}) == []
    # The shared inputs (snapshot, blob inputs of two accounts, the URL) ride once, on the preparation task.
    created = job_model(wl, job, "cpu", "0" * 64, "dev", stage=stage, ctx=ctx).as_dict(exclude_readonly=True)
    staged = created["jobPreparationTask"]["resourceFiles"]
    assert [("httpUrl" in r, r.get("blobPrefix")) for r in staged] == [
        (False, stage.prefix), (False, "ref/"), (False, "hg38/"), (True, None)]
    job_schema = body_schema(SPECS, DATA_PLANE, "Jobs_CreateJob")
    assert official_specs.errors(job_schema, created) == []
    assert official_specs.errors(job_schema, {**created, "jobPreparationTask": {
        **created["jobPreparationTask"], "waitForSuccess": "yes"}}) != []  # the spec checks the prep task too
    broken = {**bodies[0], "outputFiles": [{**bodies[0]["outputFiles"][0], "uploadOptions": {"uploadCondition": "always"}}]}
    assert official_specs.errors(schema, {"value": [broken]}) != []  # the spec does check what we send here
