"""Generators beside the product (zip, combinations, random, repeat), dependency groups and ranges, and outputs
passed from a task to its dependents: expansion, the Batch JSON, and properties over generated specs."""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import time
from itertools import combinations, permutations, product

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigcompute.workload import count_tasks, iter_tasks, load_workload
from bigcompute.workload.generators import build_generator
from bigcompute.workload.wire import task_body
from tests.workload.test_workload_expand import CTX, HEAD, tasks_of


def test_zip_pairs_the_ith_values(write):
    _, tasks = tasks_of(write, "tasks:\n  - id: z{index}\n    command: run {lo} {hi} {name}\n    zip:\n"
                               "      lo: {start: 0, stop: 30, step: 10}\n      hi: {from: 9, to: 29, count: 3}\n"
                               "      name: {values: [a, b, c]}\n")
    assert [t.command for t in tasks] == ["run 0 9.0 a", "run 10 19.0 b", "run 20 29.0 c"]
    assert dict(tasks[1].variables)["BIGCOMPUTE_PARAM_name"] == "b"


def test_combinations_subsets_arrangements_and_replacement(write):
    base = "tasks:\n  - id: c{index}\n    command: pair {a} {b}\n    combinations: {of: {values: [x, y, z]}, " \
           "names: [a, b]%s}\n"
    expected = {"": list(combinations("xyz", 2)), ", ordered: true": list(permutations("xyz", 2)),
                ", replacement: true, ordered: true": list(product("xyz", repeat=2))}
    for extra, pairs in expected.items():
        lw, tasks = tasks_of(write, base % extra)
        assert [t.command for t in tasks] == [f"pair {a} {b}" for a, b in pairs]
        assert count_tasks(lw.workload, lw.files) == len(pairs)


def test_random_draws_are_seeded_bounded_and_stable(write):
    text = ("tasks:\n  - id: r{index}\n    command: sim {u} {k} {n} {pick}\n    random:\n      seed: 7\n"
            "      count: 2000\n      draws:\n        u: {uniform: {low: 2, high: 3}}\n"
            "        k: {integer: {low: 1, high: 6}}\n        n: {normal: {mean: 10, sd: 2}}\n"
            "        pick: {choice: [red, green]}\n")
    _, tasks = tasks_of(write, text)
    rows = [dict(t.variables) for t in tasks]
    u = [float(r["BIGCOMPUTE_PARAM_u"]) for r in rows]
    k = [int(r["BIGCOMPUTE_PARAM_k"]) for r in rows]
    n = [float(r["BIGCOMPUTE_PARAM_n"]) for r in rows]
    assert all(2 <= x < 3 for x in u) and set(k) == {1, 2, 3, 4, 5, 6}
    assert {r["BIGCOMPUTE_PARAM_pick"] for r in rows} == {"red", "green"}
    assert abs(statistics.fmean(n) - 10) < 0.3 and abs(statistics.stdev(n) - 2) < 0.3
    _, again = tasks_of(write, text)
    assert [t.command for t in again] == [t.command for t in tasks]  # the same seed, the same tasks
    _, other = tasks_of(write, text.replace("seed: 7", "seed: 8"))
    assert [t.command for t in other] != [t.command for t in tasks]


def test_random_draws_do_not_depend_on_the_interpreters_hash_seed(write):
    path = write(HEAD + "tasks:\n  - id: r{index}\n    command: sim {x}\n    random: {seed: 3, count: 3, draws: "
                        "{x: {lognormal: {mean: 0, sd: 1}}}}\n")
    code = ("import sys; from bigcompute.workload import load_workload, iter_tasks; lw = load_workload(sys.argv[1]); "
            "print([t.command for t in iter_tasks(lw.workload, lw.files)])")
    outs = {subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": seed, "PYTHONPATH": sys.path[0] or "."}).stdout
            for seed in ("1", "2")}
    assert len(outs) == 1


def test_repeat_alone_and_over_a_sweep(write):
    _, tasks = tasks_of(write, "tasks:\n  - id: '{index}'\n    command: run {repeat}\n    repeat: 3\n")
    assert [(t.id, t.command) for t in tasks] == [("0", "run 0"), ("1", "run 1"), ("2", "run 2")]
    _, tasks = tasks_of(write, "tasks:\n  - id: s{s}-{repeat}\n    command: run {s}\n    sweep: {s: {values: [a, b]}}"
                               "\n    repeat: 2\n")
    assert [t.id for t in tasks] == ["sa-0", "sa-1", "sb-0", "sb-1"]
    assert dict(tasks[1].variables)["BIGCOMPUTE_REPEAT"] == "1"


def test_huge_generators_are_counted_without_iterating(write):
    lw = load_workload(write(HEAD + "tasks:\n  - id: r{index}\n    command: x\n    random: {seed: 1, count: 5, "
                                    "draws: {x: {uniform: {low: 0, high: 1}}}}\n    repeat: 2\n"))
    assert count_tasks(lw.workload, lw.files) == 10
    start = time.perf_counter()
    huge = build_generator({"random": {"seed": 1, "count": 10**9, "draws": {"x": {"normal": {"mean": 0, "sd": 1}}}},
                            "repeat": 10})
    assert huge.size() == 10**10
    assert time.perf_counter() - start < 0.5  # O(1): not ten billion draws
    g = build_generator({"combinations": {"of": {"start": 0, "stop": 10**6}, "names": ["a", "b"]}})
    assert g.size() == math.comb(10**6, 2)
    capped = write(HEAD + "tasks:\n  - id: r{index}\n    command: x\n    random: {seed: 1, count: 2000000, "
                          "draws: {x: {uniform: {low: 0, high: 1}}}}\n")
    from bigcompute.workload import WorkloadError

    try:
        load_workload(capped)
    except WorkloadError as e:
        assert [d.code for d in e.diagnostics] == ["sweep-cap"]
    else:
        raise AssertionError("a 2,000,000-task random group passed the 1,000,000 cap")


# --- dependencies: groups, ranges, outputs ---------------------------------------------------------------

PIPELINE = """\
tasks:
  - id: '{index}'
    name: shards
    command: shard {index}
    repeat: 6
    outputs: [part.txt]
  - id: sim-{k}
    name: sims
    command: sim {k}
    sweep: {k: {values: [a, b]}}
  - id: reduce-{lo}
    command: reduce
    zip: {lo: {values: [0, 3]}, hi: {values: [2, 5]}}
    dependsOn:
      - {start: '{lo}', end: '{hi}'}
      - {task: 'sim-a', outputs: true}
  - id: final
    command: final
    dependsOn: [{group: shards}, {group: sims, outputs: true}]
"""


def test_ranges_and_groups_become_task_id_ranges_and_ids(write):
    lw, tasks = tasks_of(write, PIPELINE)
    by_id = {t.id: t for t in tasks}
    assert by_id["reduce-3"].depends_ranges == ((3, 5),) and by_id["reduce-3"].depends_on == ("sim-a",)
    final = task_body(by_id["final"], lw.workload, "demo-1", CTX, {})
    # integer ids fold into one range; other ids are listed
    assert final["dependsOn"] == {"taskIds": ["sim-a", "sim-b"], "taskIdRanges": [{"start": 0, "end": 5}]}
    reduce = task_body(by_id["reduce-0"], lw.workload, "demo-1", CTX, {})
    assert reduce["dependsOn"] == {"taskIds": ["sim-a"], "taskIdRanges": [{"start": 0, "end": 2}]}
    assert lw.workload.uses_dependencies


def test_outputs_of_dependencies_reach_the_dependent_as_the_merge_gets_them(write):
    lw, tasks = tasks_of(write, PIPELINE)
    by_id = {t.id: t for t in tasks}
    identity = {"resourceId": CTX.identity_resource_id}
    reduce = task_body(by_id["reduce-0"], lw.workload, "demo-1", CTX, {})
    assert {"storageContainerUrl": CTX.outputs_url, "blobPrefix": "demo-1/sim-a/", "filePath": "outputs",
            "identityReference": identity} in reduce["resourceFiles"]
    assert {"name": "BIGCOMPUTE_TASK_OUTPUTS", "value": "outputs/demo-1"} in reduce["environmentSettings"]
    final = task_body(by_id["final"], lw.workload, "demo-1", CTX, {})
    assert [r["blobPrefix"] for r in final["resourceFiles"]] == ["demo-1/sim-"]  # the group's id prefix
    plain = task_body(by_id["0"], lw.workload, "demo-1", CTX, {})
    assert "dependsOn" not in plain and "resourceFiles" not in plain


def test_a_range_with_outputs_gives_one_folder_per_task_up_to_a_cap(write):
    text = ("tasks:\n  - id: '{index}'\n    command: x\n    repeat: %d\n  - id: r\n    command: r\n"
            "    dependsOn: [{start: 1, end: %d, outputs: true}]\n")
    lw, tasks = tasks_of(write, text % (4, 3))
    body = task_body(tasks[-1], lw.workload, "demo-1", CTX, {})
    assert [r["blobPrefix"] for r in body["resourceFiles"]] == ["demo-1/1/", "demo-1/2/", "demo-1/3/"]
    from bigcompute.workload import WorkloadError

    try:
        load_workload(write(HEAD + text % (200, 150)))
    except WorkloadError as e:
        [d] = e.diagnostics
        assert d.code == "template" and d.path == ("tasks", 1, "dependsOn", 0, "start") and "over the 100" in d.message
    else:
        raise AssertionError("a range of 150 tasks' outputs passed")


def test_a_group_dependency_over_batchs_id_list_limit_is_refused(write):
    from bigcompute.workload import WorkloadError

    text = ("tasks:\n  - id: 'a-long-task-id-prefix-of-a-big-group-{index:06d}'\n    name: big\n    command: x\n"
            "    repeat: 2000\n  - id: after\n    command: y\n    dependsOn: [{group: big}]\n")
    try:
        load_workload(write(HEAD + text))
    except WorkloadError as e:
        [d] = e.diagnostics
        assert d.code == "dependency-size" and d.path == ("tasks", 1, "dependsOn") and d.line == 12
    else:
        raise AssertionError("2,000 ids of 45 characters passed as one dependency list")
    lw, tasks = tasks_of(write, text.replace("a-long-task-id-prefix-of-a-big-group-{index:06d}", "{index}"))
    assert tasks[-1].depends_ranges == ((0, 1999),)  # integer ids: one range, whatever the count


# --- properties ------------------------------------------------------------------------------------------

VALUES = st.one_of(
    st.fixed_dictionaries({"values": st.lists(st.one_of(st.integers(-5, 5), st.text("ab", max_size=2)),
                                              min_size=1, max_size=5)}),
    st.fixed_dictionaries({"start": st.integers(-5, 5), "stop": st.integers(-5, 10)},
                          optional={"step": st.sampled_from([1, 2, 3, -1])}),
    st.fixed_dictionaries({"from": st.floats(-3, 3), "to": st.floats(-3, 3), "count": st.integers(1, 5)}),
)
NAMES = st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=3, unique=True)
DRAW = st.one_of(
    st.builds(lambda lo, w: {"uniform": {"low": lo, "high": lo + w}}, st.floats(-5, 5), st.floats(0, 5)),
    st.builds(lambda lo, w: {"integer": {"low": lo, "high": lo + w}}, st.integers(-5, 5), st.integers(0, 5)),
    st.builds(lambda m, s: {"normal": {"mean": m, "sd": s}}, st.floats(-5, 5), st.floats(0, 3)),
    st.builds(lambda r: {"exponential": {"rate": r}}, st.floats(0.1, 5)),
    st.builds(lambda lo, a, b: {"triangular": {"low": lo, "high": lo + a + b, "mode": lo + a}},
              st.floats(-2, 2), st.floats(0, 2), st.floats(0, 2)),
    st.lists(st.integers(0, 9), min_size=1, max_size=4).map(lambda v: {"choice": v}),
)
GENERATOR = st.one_of(
    st.dictionaries(st.sampled_from(["a", "b", "c"]), VALUES, min_size=1, max_size=3).map(lambda d: {"sweep": d}),
    st.builds(lambda n, names: {"zip": {k: {"start": 0, "stop": n} for k in names}}, st.integers(0, 6), NAMES),
    st.builds(lambda of, names, r, o: {"combinations": {"of": of, "names": names, "replacement": r, "ordered": o}},
              VALUES, NAMES, st.booleans(), st.booleans()),
    st.builds(lambda seed, n, draws: {"random": {"seed": seed, "count": n, "draws": draws}},
              st.integers(0, 2**32), st.integers(1, 20), st.dictionaries(st.sampled_from(["x", "y"]), DRAW,
                                                                         min_size=1)),
)
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# the workload file is rewritten for each example: the fixture's folder needs no reset
LOADING = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.function_scoped_fixture])


@PROPERTY
@given(GENERATOR, st.one_of(st.none(), st.integers(1, 3)))
def test_size_is_the_number_of_rows_and_rows_are_reproducible(spec, times):
    if times:
        spec = {**spec, "repeat": times}
    g = build_generator(spec)
    rows = list(g.rows())
    assert g.size() == len(rows)
    assert all(len(r) == len(g.names) for r in rows)
    assert list(g.rows()) == rows


@LOADING
@given(GENERATOR, st.one_of(st.none(), st.integers(1, 3)))
def test_generated_groups_validate_and_expand_to_their_size(write, spec, times):
    import yaml

    from bigcompute.workload import WorkloadError

    group = {"id": "t{index}", "command": "run " + " ".join(f"{{{n}}}" for n in _names(spec)), **spec}
    if times:
        group["repeat"] = times
    text = HEAD + yaml.safe_dump({"tasks": [group]}, sort_keys=False)
    try:
        lw = load_workload(write(text))
    except WorkloadError as e:  # a zip of unequal lengths, an empty product: refused, located
        assert all(d.line >= 1 and d.code for d in e.diagnostics)
        return
    tasks = list(iter_tasks(lw.workload, lw.files))
    assert len(tasks) == count_tasks(lw.workload, lw.files) == build_generator(group).size()


def _names(spec: dict) -> list[str]:
    [(key, body)] = spec.items()
    if key == "combinations":
        return body["names"]
    return list(body["draws"]) if key == "random" else list(body)
