"""Workloads that would lose outputs or never finish are refused by validate: outputs landing on one blob
name, slots above the pool's taskSlotsPerNode (with --stack), `maxParallelTasks: 0`."""

from __future__ import annotations

import pytest

from bigcompute.workload import WorkloadError, load_workload
from bigcompute.workload.globs import landing

HEAD = "apiVersion: bigcompute/v1\nkind: Workload\nname: demo\npool: cpu\n"


def problems(write, body: str, **kwargs) -> list[tuple[int, int, str, str]]:
    try:
        load_workload(write(HEAD + body), **kwargs)
    except WorkloadError as e:
        return [(d.line, d.column, d.code, d.message) for d in e.diagnostics]
    return []


@pytest.mark.parametrize(("pattern", "lands"), [
    ("train/metrics.json", "metrics.json"), ("metrics.json", "metrics.json"), ("results/*.npy", "*.npy"),
    ("hls/**", "**"), ("*/metrics.json", "*/metrics.json"), ("a/b*/c.txt", "b*/c.txt"), ("build/logs", "logs")])
def test_landing_follows_the_upload_rule(pattern, lands):
    assert landing(pattern) == lands


def test_two_plain_outputs_with_one_file_name_collide(write):
    found = problems(write, "tasks:\n  - id: a\n    command: x\n    outputs: [train/metrics.json, test/metrics.json]\n")
    assert found == [(8, 35, "output-collision",
                      "output 'test/metrics.json' lands on '<task>/metrics.json', as output 'train/metrics.json' "
                      "does: a plain path is uploaded by its file name alone, so one would overwrite the other; "
                      "a wildcard keeps the folders below its fixed ones: use '*/metrics.json' instead of both")]


@pytest.mark.parametrize("outputs", [
    "[a/x.json, a/y.json]", "['*/metrics.json']", "['results/*.npy', summary.json]", "['hls/**/*.ts', 'hls.m3u8']",
    "[{pattern: ok/result.json, when: success}, {pattern: err/result.json, when: failure}]"])
def test_outputs_that_cannot_collide_pass(write, outputs):
    assert problems(write, f"tasks:\n  - id: a\n    command: x\n    outputs: {outputs}\n") == []


@pytest.mark.parametrize(("outputs", "earlier"), [
    ("['a/*.json', 'b/*.json']", "a/*.json"), ("['out/*', report.txt]", "out/*"),
    ("[{pattern: x/r.json, when: always}, {pattern: y/r.json, when: failure}]", "x/r.json")])
def test_outputs_that_can_collide_name_the_earlier_one(write, outputs, earlier):
    [(line, _, code, message)] = problems(write, f"tasks:\n  - id: a\n    command: x\n    outputs: {outputs}\n")
    assert (line, code) == (8, "output-collision")
    assert f"as output {earlier!r}" in message or f"same names as output {earlier!r}" in message


def test_merge_outputs_are_checked_too(write):
    [(line, _, code, _)] = problems(write, "tasks:\n  - {id: a, command: x}\nmerge:\n  command: y\n"
                                    "  outputs: [s/report.txt, report.txt]\n")
    assert (line, code) == (9, "output-collision")


@pytest.mark.parametrize("pattern", ["build/logs", "logs", "out/log?/std*.txt"])
def test_outputs_where_the_logs_go_are_refused(write, pattern):
    [(_, _, code, message)] = problems(write, f"tasks:\n  - id: a\n    command: x\n    outputs: ['{pattern}']\n")
    assert code == "output-collision" and "where the task's stdout and stderr are uploaded" in message


@pytest.mark.parametrize(("where", "body", "spot"), [
    ("task", "tasks:\n  - id: a\n    command: x\n    settings: {slots: 3}\n", (8, 23)),
    ("defaults", "defaults: {slots: 4}\ntasks:\n  - {id: a, command: x}\n", (5, 19)),
    ("merge", "tasks:\n  - {id: a, command: x}\nmerge: {command: y, settings: {slots: 3}}\n", (7, 39))])
def test_slots_above_the_pools_are_refused_with_a_stack(write, where, body, spot):
    assert problems(write, body, pools=["cpu"]) == []  # names only (no stack slots known): not checked
    [(line, column, code, message)] = problems(write, body, pools={"cpu": 2})
    assert (line, column, code) == (*spot, "slots")
    assert "is above the taskSlotsPerNode (2) of pool 'cpu': no node could ever run the task" in message
    assert problems(write, body, pools={"cpu": 4}) == []


@pytest.mark.parametrize(("value", "refused"), [(0, True), (-1, False), (1, False)])
def test_max_parallel_tasks_zero_is_refused(write, value, refused):
    found = problems(write, f"job: {{maxParallelTasks: {value}}}\ntasks:\n  - {{id: a, command: x}}\n")
    assert found == ([(5, 25, "max-parallel", "maxParallelTasks must be -1 (no limit) or at least 1: with 0 no "
                       "task of the job would ever run")] if refused else [])
