"""Storage beyond the workload's own files (issue 16, items 1, 2, 4): blob inputs from other containers and
accounts, https URL inputs with a SHA-256 checked on the node, output destinations with path templates, and
`foreach: {blobs: …}`; each refused with its location when wrong, and rendered to Batch's JSON."""

from __future__ import annotations

import dataclasses

import pytest

from bigcompute.workload import WorkloadError, iter_tasks, load_workload
from bigcompute.workload.storage import ListedFile, destination_blob_path
from bigcompute.workload.wire import (
    InputChecksums,
    Staging,
    StorageContext,
    job_id,
    spec_hash,
    task_body,
)

HEAD = "apiVersion: bigcompute/v1\nkind: Workload\nname: demo\npool: cpu\n"
TASK = "tasks:\n  - {id: a, command: x}\n"
CTX = StorageContext("https://acct.blob.core.windows.net/inputs", "https://acct.blob.core.windows.net/outputs",
                     "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/p")
SHA = "ab" * 32
OTHER = "https://refdata.blob.core.windows.net/genomes"


def errors(write, text: str) -> list[tuple[int, int, str, str]]:
    with pytest.raises(WorkloadError) as info:
        load_workload(write(text))
    return [(d.line, d.column, d.code, d.message) for d in info.value.diagnostics]


def bodies(write, text: str, listings=None) -> list[dict]:
    return rendered(write, text, listings)[0]


def rendered(write, text: str, listings=None) -> tuple[list[dict], str]:
    lw = load_workload(write(text))
    wl = dataclasses.replace(lw.workload, listings=listings or {})
    digests = {f.relpath: "0" * 64 for f in lw.files}
    job = job_id(wl, digests)
    return [task_body(t, wl, job, CTX, digests, {"taskIds": ["x"]}) for t in iter_tasks(wl, lw.files)], job


@pytest.mark.parametrize(("entry", "where", "code", "message"), [
    ("{url: 'http://example.org/a.bin'}", (7, 11), "schema-pattern", "expected an https:// URL"),
    ("{url: 'ftp://example.org/a.bin'}", (7, 11), "schema-pattern", "expected an https:// URL"),
    ("{url: 'https://example.org/a.bin?sv=1&sig=abc'}", (7, 11), "input", "carries a SAS signature"),
    ("{url: 'https://u:p@example.org/a.bin'}", (7, 11), "input", "carries a user name or password"),
    ("{url: 'https://example.org/dir/'}", (7, 11), "input", "ends with '/': give the file a `name`"),
    ("{url: 'https://example.org/a.bin', to: ../up}", (7, 44), "path", "must not contain '..'"),
    ("{url: 'https://example.org/a.bin', sha256: xyz}", (7, 48), "schema-pattern", "expected 64 hex digits"),
    ("{url: 'https://example.org/data/part0.csv', to: data}", (7, 5), "input",
     "lands on 'data/part0.csv', as the input file does"),
    ("{blob: ref/, container: 'Bad_Name'}", (7, 29), "storage", "is not a valid container name"),
    ("{blob: ref/, container: 'https://acct.blob.core.windows.net/c?sv=1&sig=x'}", (7, 29), "storage",
     "carries a SAS signature"),
    ("{blob: ref/, container: 'http://acct.blob.core.windows.net/genomes'}", (7, 29), "storage",
     "must be an https:// URL"),
    ("{blob: ref/, container: 'https://acct.blob.core.windows.net/genomes/hg38'}", (7, 29), "storage",
     "one container name as its path"),
])
def test_bad_inputs_are_refused_at_their_field(write, entry, where, code, message):
    found = errors(write, HEAD + f"inputs:\n  - data/\n  - {entry}\n" + TASK)
    assert [(line, col, c) for line, col, c, _ in found] == [(*where, code)], found
    assert message in found[0][3]


@pytest.mark.parametrize(("output", "where", "code", "message"), [
    ("{pattern: a.txt, container: 'https://x.blob.core.windows.net/c?sig=1'}", (6, 63), "storage",
     "carries a SAS signature"),
    ("{pattern: a.txt, path: '../{task}'}", (6, 58), "template", "must be relative and must not contain '..'"),
    ("{pattern: a.txt, path: '{job:>9}'}", (6, 58), "template", "{job} takes no format spec"),
    ("{pattern: a.txt, path: '{seed}'}", (6, 58), "template", "unknown placeholder {seed}; available here: "
                                                              "index, job, task, workload"),
])
def test_bad_output_destinations_are_refused_at_their_field(write, output, where, code, message):
    found = errors(write, HEAD + f"tasks:\n  - {{id: a, command: x, outputs: [{output}]}}\n")
    assert [(line, col, c) for line, col, c, _ in found] == [(*where, code)], found
    assert message in found[0][3]


def test_a_merge_destination_knows_only_workload_job_and_task(write):
    found = errors(write, HEAD + TASK + "merge:\n  command: x\n  outputs: [{pattern: a, path: '{stem}/x'}]\n")
    assert [(line, col, c) for line, col, c, _ in found] == [(9, 32, "template")]
    assert "available here: job, task, workload" in found[0][3]


def test_foreach_blobs_is_one_or_the_other(write):
    found = errors(write, HEAD + "tasks:\n  - id: 'f-{stem}'\n    command: x\n"
                               "    foreach: {files: 'data/*', blobs: raw/}\n")
    assert found[0][2].startswith("schema"), found


def staged(write, text: str) -> tuple[list[dict], Staging]:
    """The task bodies, and what the job preparation task stages once per node for all of them."""
    lw = load_workload(write(text))
    digests = {f.relpath: "0" * 64 for f in lw.files}
    return bodies(write, text), Staging.of(lw.workload, digests, lw.files)


def test_url_inputs_are_staged_for_every_task_and_their_digest_is_checked_on_the_node(write):
    tasks, stage = staged(write, HEAD + f"inputs:\n  - {{url: 'https://example.org/tools/solver.tgz', to: bin, "
                                        f"sha256: {SHA.upper()}}}\n  - {{url: 'https://example.org/get?id=3', "
                                        "name: table.csv}\n" + TASK + "merge: {command: y}\n")
    root = stage.root
    urls = [r for r in stage.prep_resources(CTX) if r.get("httpUrl", "").startswith("https://example.org")]
    # a public URL: no identity reference (Batch would sign the request with the pool's identity)
    assert urls == [{"httpUrl": "https://example.org/tools/solver.tgz", "filePath": f"{root}/bin/solver.tgz"},
                    {"httpUrl": "https://example.org/get?id=3", "filePath": f"{root}/table.csv"}]
    listed = InputChecksums.of({"bin/solver.tgz": SHA})  # the declared digest, lowercased, in the checksum list
    assert stage.checksums == listed and listed.digest in stage.prep_script()
    assert "sha256sum -c" in stage.prep_script()
    for body in tasks:  # both link the staged tree, neither carries the URLs
        assert "example.org" not in str(body.get("resourceFiles")) and root in body["commandLine"]


def test_a_url_input_without_digest_adds_no_check(write):
    [task], stage = staged(write, HEAD + "inputs: [{url: 'https://example.org/a.bin'}]\n" + TASK)
    assert stage.prep_resources(CTX) == [{"httpUrl": "https://example.org/a.bin", "filePath": f"{stage.root}/a.bin"}]
    assert stage.checksums is None and "sha256sum" not in stage.prep_script() + task["commandLine"]
    assert "resourceFiles" not in task


def test_blob_inputs_from_another_container_or_account_read_through_the_identity(write):
    [task], stage = staged(write, HEAD + f"inputs:\n  - {{blob: ref/, container: reference, to: r}}\n"
                                         f"  - {{blob: hg38/, container: '{OTHER}'}}\n" + TASK)
    assert stage.prep_resources(CTX) == [
        {"storageContainerUrl": "https://acct.blob.core.windows.net/reference", "blobPrefix": "ref/",
         "filePath": f"{stage.root}/r", "identityReference": {"resourceId": CTX.identity_resource_id}},
        {"storageContainerUrl": OTHER, "blobPrefix": "hg38/", "filePath": stage.root,
         "identityReference": {"resourceId": CTX.identity_resource_id}}]
    assert "resourceFiles" not in task


@pytest.mark.parametrize(("path", "pattern", "blob_path"), [
    ("r/j/t", "results/*.npy", "r/j/t/results"),  # the fixed folder kept: results/a.npy -> r/j/t/results/a.npy
    ("r/j/t", "a/b/metrics.json", "r/j/t/a/b/metrics.json"),  # a plain path keeps its folders
    ("r", "*.csv", "r"),
    ("r", "out/**/*.png", "r/out"),
])
def test_destinations_keep_relative_paths(path, pattern, blob_path):
    assert destination_blob_path(path, pattern) == blob_path


def test_output_destinations_render_job_task_and_parameters(write):
    tasks, job = rendered(write, HEAD + f"""tasks:
  - id: 's{{seed}}'
    command: run {{seed}}
    sweep: {{seed: {{values: [1, 2]}}}}
    outputs:
      - {{pattern: 'results/*.npy', container: results, path: '{{workload}}/{{job}}/seed-{{seed:03d}}'}}
      - {{pattern: summary.json, when: failure, container: '{OTHER}'}}
      - {{pattern: log.txt, when: always, path: 'logs/{{task}}'}}
      - plain.txt
merge:
  command: x
  outputs: [{{pattern: 'final/*.csv', path: '{{workload}}/latest/{{task}}'}}]
""")
    first, merge = tasks[0], tasks[-1]

    def dest(body, i):
        out = body["outputFiles"][i]
        return out["destination"]["container"]["containerUrl"], out["destination"]["container"]["path"], \
            out["uploadOptions"]["uploadCondition"]
    assert dest(first, 0) == ("https://acct.blob.core.windows.net/results", f"demo/{job}/seed-001/results",
                              "tasksuccess")
    assert dest(first, 1) == (OTHER, f"{job}/s1/summary.json", "taskfailure")
    assert dest(first, 2) == (CTX.outputs_url, "logs/s1/log.txt", "taskcompletion")
    assert dest(first, 3) == (CTX.outputs_url, f"{job}/s1/plain.txt", "tasksuccess")  # the default rule stays
    assert dest(merge, 0) == (CTX.outputs_url, "demo/latest/merge/final", "tasksuccess")
    assert all(o["destination"]["container"]["identityReference"] for o in first["outputFiles"])


def test_foreach_blobs_expands_only_from_the_plans_listing(write):
    text = HEAD + ("tasks:\n  - id: 'v-{stem}'\n    command: convert {file} {name}\n"
                   "    foreach: {blobs: raw/, container: media, to: in}\n")
    lw = load_workload(write(text))
    assert list(iter_tasks(lw.workload, lw.files)) == []  # validate has no listing: no task, no error
    listing = {0: (ListedFile("in/raw/a b.mp4", "raw/a b.mp4", "media", 10, "md5:00"),
                   ListedFile("in/raw/c.mp4", "raw/c.mp4", "media", 20, "md5:01"))}
    a, c = bodies(write, text, listing)
    assert (a["id"], c["id"]) == ("v-a b", "v-c")
    assert a["commandLine"] == "/bin/sh -c 'convert '\"'\"'in/raw/a b.mp4'\"'\"' '\"'\"'a b.mp4'\"'\"''"
    assert a["resourceFiles"] == [{"httpUrl": "https://acct.blob.core.windows.net/media/raw/a%20b.mp4",
                                   "filePath": "in/raw/a b.mp4",
                                   "identityReference": {"resourceId": CTX.identity_resource_id}}]
    env = {e["name"]: e["value"] for e in c["environmentSettings"]}
    assert (env["BIGCOMPUTE_FILE"], env["BIGCOMPUTE_STEM"]) == ("in/raw/c.mp4", "c")


def test_the_listing_is_part_of_the_job_identity(write):
    wl = load_workload(write(HEAD + "tasks:\n  - {id: 'v-{stem}', command: x, foreach: {blobs: raw/}}\n")).workload
    one = (ListedFile("raw/a", "raw/a", None, 1, "md5:00"),)
    more = (*one, ListedFile("raw/b", "raw/b", None, 1, "md5:01"))
    hashes = {spec_hash(dataclasses.replace(wl, listings={0: x}), {}) for x in (one, more)}
    changed = spec_hash(dataclasses.replace(wl, listings={0: (dataclasses.replace(one[0], version="md5:ff"),)}), {})
    assert len(hashes | {changed}) == 3


def test_foreach_blobs_default_to_the_inputs_container(write):
    text = HEAD + "tasks:\n  - {id: 'v{index}', command: 'x {file}', foreach: {blobs: shared/}}\n"
    [task] = bodies(write, text, {0: (ListedFile("shared/a.csv", "shared/a.csv", None, 1, "md5:00"),)})
    assert task["resourceFiles"] == [{"httpUrl": f"{CTX.inputs_url}/shared/a.csv", "filePath": "shared/a.csv",
                                      "identityReference": {"resourceId": CTX.identity_resource_id}}]
    assert "sha256sum" not in task["commandLine"]  # read as it is, like blob inputs: not in the checksum list
