"""A generated group's per-task checks proven once per template and value (workload.proofs), and its tasks stamped
by str.format on rows of preformatted texts (expand.stamp_rows): the same tasks as one by one, and every problem
the task by task scan finds is still found (the proof declines, the scan reports it)."""

from __future__ import annotations

from itertools import islice

import pytest

from bigcompute.document import load_document
from bigcompute.workload import load_workload
from bigcompute.workload.build import build_workload
from bigcompute.workload.expand import _expand_each, compile_group, iter_tasks, stamp_rows
from bigcompute.workload.proofs import prove_groups
from bigcompute.workload.templates import TemplateError

HEAD = "apiVersion: bigcompute/v1\nkind: Workload\nname: demo\npool: cpu\n"


def group_of(write, text: str):
    path = write(HEAD + text)
    wl = build_workload(load_document(path).data, path, {"p": 7} if "parameters" in text else {})
    return wl, [compile_group(g, wl) for g in wl.groups]


@pytest.mark.parametrize("text", [
    # one parameter under two specs, a parameter of the workload, the workload's name, literal braces, {index}
    "parameters: {p: {type: int, default: 7}}\ntasks:\n  - id: r-{a:03d}-{b}-{a}\n"
    "    command: run {a:.2f} {{x}} {b} {p:04d} {workload} --i {index:05d}\n    displayName: '{b} of {a}'\n"
    "    env: {K: fixed}\n    outputs: [out/*.txt]\n"
    "    sweep:\n      a: {start: 0, stop: 12, step: 3}\n      b: {values: [x, y, Z]}\n",
    "tasks:\n  - id: r{index}\n    command: run {v} {repeat}\n    sweep: {v: {from: 0, to: 1, count: 4}}\n"
    "    repeat: 3\n",
    # other generators: formatted task by task (a value to quote in a command takes the dict rendering)
    "tasks:\n  - id: z-{b}-{index}\n    command: run {a}\n    zip: {a: {values: [1, 2, 3]}, b: {values: [u, v, w]}}\n",
    "tasks:\n  - id: d{index}\n    command: run {x:.4f}\n    displayName: '{k}'\n    random: {seed: 3, count: 20, draws: {x: {normal: "
    "{mean: 0, sd: 1}}, k: {choice: [a, b]}}}\n",
    "tasks:\n  - id: q{index}\n    command: run {a}\n    repeat: 4\n    sweep: {a: {values: [x, y]}}\n",
])
def test_stamped_tasks_are_the_tasks_built_one_by_one(write, text):
    wl, compiled = group_of(write, text)
    stamped = stamp_rows(compiled[0], wl, ())
    assert stamped is not None  # the fast path was taken
    one_by_one = list(_expand_each(compiled[0], wl, ()))
    assert list(stamped) == one_by_one and len(one_by_one) > 2
    assert [t.variables for t in iter_tasks(wl, ())] == [t.variables for t in one_by_one]


def test_a_value_its_spec_refuses_is_located_by_the_stamped_expansion(write):
    wl, compiled = group_of(write, "tasks:\n  - id: t{index}\n    command: run {x:d}\n"
                                   "    sweep: {x: {values: [1, 2, 2.5]}}\n")
    stamped = stamp_rows(compiled[0], wl, ())
    assert stamped is not None
    assert [t.id for t in islice(stamped, 2)] == ["t0", "t1"]
    with pytest.raises(TemplateError, match="cannot fill template 'run {x:d}'"):
        next(stamped)


def test_the_million_task_sweep_is_proven_not_scanned(write):
    wl, compiled = group_of(write, "tasks:\n  - id: run-{a:03d}-{b:03d}-{c:02d}\n    command: sim {a} {b} {c}\n"
                                   "    sweep:\n      a: {start: 0, stop: 100}\n      b: {start: 0, stop: 100}\n"
                                   "      c: {start: 0, stop: 100}\n")
    proofs = prove_groups(compiled, wl)
    assert proofs[0].count == 1_000_000
    assert proofs[0].chars == 1_000_000 * len("run-000-000-00 ")


REFUSED = [
    # the id omits a parameter: ids repeat
    ("tasks:\n  - id: run-{a}\n    command: x {b}\n    sweep: {a: {values: [1, 2]}, b: {values: [1, 2]}}\n",
     "duplicate-id", "task id 'run-1' is used by more than one task"),
    # fields that run together: r1 + 11 and r11 + 1 read the same
    ("tasks:\n  - id: r{a}{b}\n    command: x\n    sweep: {a: {values: [1, 11]}, b: {values: [1, 11]}}\n",
     "duplicate-id", "task id 'r111'"),
    # ids are case-insensitive
    ("tasks:\n  - id: r-{a}\n    command: x\n    sweep: {a: {values: [A, b, a]}}\n", "duplicate-id", "'r-a'"),
    # a value that is not an id character, in one branch only
    ("tasks:\n  - id: r-{a}-{b}\n    command: x\n    sweep: {a: {values: [ok, 'not ok']}, b: {values: [1]}}\n",
     "task-id", "task id 'r-not ok-1' is not a valid Batch task id"),
    # one combination too long
    ("tasks:\n  - id: r-{a}-{b}\n    command: x\n    sweep: {a: {values: [s, " + "a" * 40 + "]}, b: {values: [t, "
     + "b" * 30 + "]}}\n", "task-id", "is not a valid Batch task id"),
    # a value its format spec cannot take, in one branch only
    ("tasks:\n  - id: r-{index}\n    command: x {v:03d}\n    sweep: {v: {values: [1, 2, three]}}\n",
     "template", "cannot fill template 'x {v:03d}'"),
    # a bad value in the second group only
    ("tasks:\n  - id: a-{index}\n    command: x {v}\n    sweep: {v: {values: [1, 2]}}\n"
     "  - id: b-{index}\n    command: x {w:d}\n    sweep: {w: {values: [1, 2.5]}}\n", "template",
     "cannot fill template 'x {w:d}'"),
    # two groups whose ids meet
    ("tasks:\n  - id: r-{a}\n    command: x\n    sweep: {a: {values: [1, 2]}}\n"
     "  - id: r-{b}\n    command: y\n    sweep: {b: {values: [2, 3]}}\n", "duplicate-id", "task id 'r-2'"),
    # the merge task's id is a task's id
    ("tasks:\n  - id: r-{a}\n    command: x\n    sweep: {a: {start: 0, stop: 5}}\nmerge: {id: r-3, command: m}\n",
     "duplicate-id", "merge id 'r-3' is also the id of a task"),
    # the merge task would depend on more id characters than Batch takes
    ("tasks:\n  - id: a-long-task-name-{a:05d}\n    command: x\n    sweep: {a: {start: 0, stop: 5000}}\n"
     "merge: {command: m}\n", "dependency-size", "the merge task depends on 5,000 tasks"),
]


@pytest.mark.parametrize(("text", "code", "message"), REFUSED)
def test_what_the_scan_catches_is_still_caught(refused, text, code, message):
    found = refused(HEAD + text)
    assert any(c == code and message in m for _, _, c, m in found), found


@pytest.mark.parametrize(("text", "code", "message"), REFUSED[:-1])
def test_the_proof_declines_what_it_cannot_show(write, text, code, message):
    wl, compiled = group_of(write, text)
    proofs = prove_groups(compiled, wl)
    if "merge" in text:
        assert proofs  # proven; the merge id is matched against the group's id shape, then confirmed
    else:
        assert compiled[-1].group.index not in proofs


def test_the_proof_counts_what_the_merge_checks(write):
    text = ("tasks:\n  - id: a-long-task-name-{a:05d}\n    command: x\n    sweep: {a: {start: 0, stop: 5000}}\n"
            "merge: {command: m}\n")
    wl, compiled = group_of(write, text)
    [proof] = prove_groups(compiled, wl).values()
    assert proof.chars == sum(len(t.id) + 1 for t in _expand_each(compiled[0], wl, ()))


def test_proven_workloads_load(write):
    lw = load_workload(write(HEAD + "tasks:\n  - id: s-{a}_{b:02d}-{index}\n    command: x {a} {b}\n"
                                    "    sweep: {a: {values: [x, yy, zzz]}, b: {start: 0, stop: 12}}\n"
                                    "merge: {id: s-x, command: m}\n"))
    ids = [t.id for t in iter_tasks(lw.workload, lw.files)]
    assert len(ids) == len(set(ids)) == 37 and ids[-1] == "s-x"
