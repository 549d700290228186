"""Exit conditions and the job release task in the Batch JSON a workload expands to (issue 16 item 8); the end
to end behaviour on the local target is in tests/runner/test_runner_exit_conditions.py."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest

from bigcompute.runner.jobs import failure_mode, job_model
from bigcompute.workload import WorkloadError, iter_tasks, load_workload
from bigcompute.workload.wire import StorageContext, task_body

HEAD = "apiVersion: bigcompute/v1\nkind: Workload\nname: demo\npool: cpu\n"
CTX = StorageContext("https://acct.blob.core.windows.net/inputs", "https://acct.blob.core.windows.net/outputs", None)


def bodies(write, text: str) -> tuple[object, dict[str, dict]]:
    lw = load_workload(write(HEAD + textwrap.dedent(text)))
    tasks = {t.id: task_body(t, lw.workload, "job-1", CTX, {}) for t in iter_tasks(lw.workload, lw.files)}
    return lw.workload, tasks


def problems(write, text: str) -> list[tuple[int, int, str, str]]:
    with pytest.raises(WorkloadError) as e:
        load_workload(write(HEAD + textwrap.dedent(text)))
    return [(d.line, d.column, d.code, d.message) for d in e.value.diagnostics]


def test_a_job_action_makes_the_job_perform_exit_options_and_every_task_says_its_own(write):
    wl, tasks = bodies(write, """\
        tasks:
          - id: fit
            command: ./fit
            settings:
              exitConditions:
                exitCodes: [{code: 3, jobAction: terminate}, {code: 4, dependencyAction: satisfy}]
                exitCodeRanges: [{start: 10, end: 20, jobAction: disable, dependencyAction: block}]
                preProcessingError: {jobAction: terminate}
          - id: other
            command: ./other
        """)
    assert failure_mode(wl) == "performexitoptionsjobaction"
    assert tasks["fit"]["exitConditions"] == {
        "exitCodes": [{"code": 3, "exitOptions": {"jobAction": "terminate"}},
                      {"code": 4, "exitOptions": {"jobAction": "none", "dependencyAction": "satisfy"}}],
        "exitCodeRanges": [{"start": 10, "end": 20, "exitOptions": {"jobAction": "disable", "dependencyAction": "block"}}],
        "preProcessingError": {"jobAction": "terminate"},
        "default": {"jobAction": "none"}}
    # Batch's default jobAction for a failure is terminate on such a job: a task that says nothing says none
    assert tasks["other"]["exitConditions"] == {"default": {"jobAction": "none"}}


def test_dependency_actions_alone_keep_the_job_in_noaction(write):
    wl, tasks = bodies(write, """\
        tasks:
          - id: a
            command: ./a
            settings: {exitConditions: {default: {dependencyAction: satisfy}}}
          - {id: b, command: ./b, dependsOn: [a]}
        """)
    assert failure_mode(wl) == "noaction"
    assert tasks["a"]["exitConditions"] == {"default": {"dependencyAction": "satisfy"}}
    assert "exitConditions" not in tasks["b"]  # Batch's defaults: nothing to send


def test_with_a_merge_a_failure_still_ends_the_job_unless_the_workload_says_otherwise(write):
    wl, tasks = bodies(write, """\
        tasks:
          - id: a
            command: ./a
            settings:
              exitConditions:
                exitCodes: [{code: 0, dependencyAction: satisfy}, {code: 7, dependencyAction: satisfy},
                            {code: 8, dependencyAction: block}, {code: 9, jobAction: disable, dependencyAction: satisfy}]
          - {id: b, command: ./b}
        merge: {command: ./merge}
        """)
    assert failure_mode(wl) == "performexitoptionsjobaction"
    assert tasks["a"]["exitConditions"] == {
        "exitCodes": [{"code": 0, "exitOptions": {"jobAction": "none", "dependencyAction": "satisfy"}},
                      {"code": 7, "exitOptions": {"jobAction": "none", "dependencyAction": "satisfy"}},
                      {"code": 8, "exitOptions": {"jobAction": "terminate", "dependencyAction": "block"}},
                      {"code": 9, "exitOptions": {"jobAction": "disable", "dependencyAction": "satisfy"}}],
        "default": {"jobAction": "terminate"}}
    assert "exitConditions" not in tasks["b"]  # Batch's default for a failure on this job: terminate, as wanted


def test_defaults_give_every_group_its_exit_conditions_and_a_group_replaces_them_whole(write):
    _, tasks = bodies(write, """\
        defaults: {exitConditions: {exitCodes: [{code: 2, jobAction: terminate}]}}
        tasks:
          - {id: a, command: ./a}
          - id: b
            command: ./b
            settings: {exitConditions: {default: {dependencyAction: satisfy}}}
        """)
    assert tasks["a"]["exitConditions"]["exitCodes"] == [{"code": 2, "exitOptions": {"jobAction": "terminate"}}]
    assert tasks["b"]["exitConditions"] == {"default": {"jobAction": "none", "dependencyAction": "satisfy"}}


def test_the_release_task_goes_to_the_job(write):
    lw = load_workload(write(HEAD + textwrap.dedent("""\
        prepare: {command: mkdir -p /mnt/scratch}
        release: {command: rm -rf /mnt/scratch, elevated: true, timeout: PT5M}
        tasks: [{id: a, command: ./a}]
        """)))
    job = job_model(lw.workload, "job-1", "pool-1", "0" * 64, "dev").as_dict()
    assert job["jobReleaseTask"] == {"commandLine": "/bin/sh -c 'rm -rf /mnt/scratch'", "maxWallClockTime": "PT05M00S",
                                     "userIdentity": {"autoUser": {"scope": "task", "elevationLevel": "admin"}}}
    assert lw.workload.release.timeout == timedelta(minutes=5)


def test_a_release_without_preparation_is_refused_as_batch_refuses_it(write):
    [(line, column, code, message)] = problems(write, """\
        release: {command: rm -rf /mnt/scratch}
        tasks: [{id: a, command: ./a}]
        """)
    assert (line, column, code) == (5, 1, "release")
    assert "needs a job preparation task" in message and "add `prepare:`" in message


def test_a_release_timeout_over_batch_cap_is_refused(write):
    [(line, _, code, message)] = problems(write, """\
        prepare: {command: 'true'}
        release: {command: x, timeout: PT20M}
        tasks: [{id: a, command: ./a}]
        """)
    assert (line, code) == (6, "release") and "15-minute cap" in message


def test_empty_ranges_and_codes_mapped_twice_are_refused(write):
    found = problems(write, """\
        tasks:
          - id: a
            command: ./a
            settings:
              exitConditions:
                exitCodes: [{code: 3, jobAction: none}, {code: 3, jobAction: terminate}]
                exitCodeRanges: [{start: 9, end: 2, dependencyAction: satisfy}]
        """)
    assert sorted((line, code) for line, _, code, _ in found) == [(10, "exit-conditions"), (11, "exit-conditions")]
    assert any("9..2 is empty" in m for *_, m in found)
    assert any("already mapped by exitCodes[0]" in m for *_, m in found)


def test_an_exit_code_entry_without_an_action_is_refused_by_the_schema(write):
    [(_, _, _, message)] = problems(write, """\
        tasks:
          - id: a
            command: ./a
            settings: {exitConditions: {exitCodes: [{code: 3}]}}
        """)
    assert "exitCodes" in message or "code" in message
