"""The Batch JSON of issue 16's exit conditions, job release task and container settings (per workload, task
group and merge; shell and entrypoint forms; an ACR image with the pool identity) against the Batch data-plane
spec, as the shipped workloads' requests are in test_contract_dataplane.py."""

from __future__ import annotations

import textwrap

from tests.contract.conftest import SpecSet, runner_requests
from tests.contract.test_contract_dataplane import _errors

WORKLOAD = """\
    apiVersion: bigcompute/v1
    kind: Workload
    name: features
    pool: cpu
    prepare: {command: mkdir -p /mnt/scratch}
    release: {command: rm -rf /mnt/scratch, elevated: true, timeout: PT10M}
    container: {image: myreg.azurecr.io/sim:2, options: --shm-size=1g}
    defaults:
      exitConditions:
        exitCodes: [{code: 3, jobAction: terminate}, {code: 4, dependencyAction: satisfy}]
        exitCodeRanges: [{start: 10, end: 20, jobAction: disable, dependencyAction: block}]
        preProcessingError: {jobAction: terminate}
        fileUploadError: {dependencyAction: satisfy}
        default: {jobAction: none, dependencyAction: block}
    tasks:
      - id: sim-{i}
        command: ./sim {i}
        sweep: {i: {start: 0, stop: 3}}
      - id: plot
        command: --format svg
        container: {image: docker.io/acme/plot:1, entrypoint: true, workingDirectory: image}
        dependsOn: [sim-0]
    merge:
      command: cat outputs/*/*.txt
      container: {image: python:3.12-slim}
      settings: {exitConditions: {default: {dependencyAction: satisfy}}}
    """


def test_exit_conditions_release_and_containers_match_the_data_plane_schema(tmp_path, official_specs: SpecSet):
    (tmp_path / ".git").mkdir()
    path = tmp_path / "features.yaml"
    path.write_text(textwrap.dedent(WORKLOAD))
    requests = runner_requests(path)
    job = next(r.body for r in requests if r.operation == "Jobs_CreateJob")
    tasks = next(r.body for r in requests if r.operation == "Tasks_CreateTaskCollection")["value"]
    assert job["jobReleaseTask"]["commandLine"] == "/bin/sh -c 'rm -rf /mnt/scratch'"
    assert job["onTaskFailure"] == "performexitoptionsjobaction"
    assert {t["id"] for t in tasks if "registry" in t["containerSettings"]} == {"sim-0", "sim-1", "sim-2"}
    assert all("exitConditions" in t for t in tasks)
    failures = {r.label: e for r in requests if (e := _errors(official_specs, r.operation, r.body))}
    assert failures == {}
