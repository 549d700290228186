"""Every error class of the workload checks, with its exact location and message."""

from __future__ import annotations

import pytest

from bigcompute.workload import WorkloadError, count_tasks, load_workload

HEAD = "apiVersion: bigcompute/v1\nkind: Workload\nname: demo\npool: cpu\n"


def errors(write, text, **kwargs) -> list[tuple[int, int, str, str]]:
    with pytest.raises(WorkloadError) as info:
        load_workload(write(text), **kwargs)
    return [(d.line, d.column, d.code, d.message) for d in info.value.diagnostics]


CASES = {
    "yaml syntax": (HEAD + "tasks: [\n", (6, 1, "yaml-syntax", "YAML syntax error")),
    "duplicate key": (HEAD + "tasks:\n  - id: a\n    command: x\n    id: b\n",
                      (8, 5, "duplicate-key", "duplicate key 'id' (first defined at line 6)")),
    "misspelled key": (HEAD + "tasks:\n  - id: a\n    comand: x\n    command: y\n",
                       (7, 5, "unknown-key", "unknown key 'comand'; did you mean 'command'?")),
    "wrong type": (HEAD + "tasks:\n  - id: a\n    command: [x]\n",
                   (7, 14, "schema-type", "expected string, got a list")),
    "missing key": (HEAD + "tasks:\n  - id: a\n", (6, 5, "schema-required", "missing required key 'command'")),
    "bad duration": (HEAD + "defaults: {timeout: 10m}\ntasks:\n  - {id: a, command: x}\n",
                     (5, 21, "schema-pattern", "expected an ISO 8601 duration such as PT30M or P1DT2H; got '10m'")),
    "unknown placeholder": (HEAD + "tasks:\n  - id: t-{seed}\n    command: run {sed}\n    sweep:\n"
                            "      seed: {start: 0, stop: 3}\n",
                            (7, 14, "template", "unknown placeholder {sed}; available here: index, seed, workload")),
    "attribute placeholder": (HEAD + "tasks:\n  - id: t-{index.__class__}\n    command: x\n",
                              (6, 9, "template", "placeholder {index.__class__} must be a plain name")),
    "invalid task id": (HEAD + "tasks:\n  - id: 'a b'\n    command: x\n",
                        (6, 9, "task-id", "task id 'a b' is not a valid Batch task id")),
    "task id too long": (HEAD + "tasks:\n  - id: " + "x" * 65 + "\n    command: x\n",
                         (6, 9, "task-id", "is not a valid Batch task id")),
    "duplicate task id": (HEAD + "tasks:\n  - {id: a, command: x}\n  - {id: A, command: y}\n",
                          (7, 10, "duplicate-id", "task id 'A' is used by more than one task")),
    "duplicate from sweep": (HEAD + "tasks:\n  - id: t-{v}\n    command: x\n    sweep:\n"
                             "      v: {values: [1, 2, 1]}\n",
                             (6, 9, "duplicate-id", "task id 't-1' is used by more than one task")),
    "missing dependency": (HEAD + "tasks:\n  - {id: a, command: x, dependsOn: [b]}\n",
                           (6, 37, "missing-dependency", "task 'a' depends on 'b', which no task")),
    "dependency cycle": (HEAD + "tasks:\n  - {id: a, command: x, dependsOn: [c]}\n"
                         "  - {id: b, command: x, dependsOn: [a]}\n  - {id: c, command: x, dependsOn: [b]}\n",
                         (6, 36, "dependency-cycle", "dependency cycle: a -> c -> b -> a")),
    "absolute input": (HEAD + "inputs: [/etc/passwd]\ntasks:\n  - {id: a, command: x}\n",
                       (5, 10, "input", "input path '/etc/passwd' must be relative, not absolute")),
    "input escapes": (HEAD + "inputs: [../secrets.txt]\ntasks:\n  - {id: a, command: x}\n",
                      (5, 10, "input", "input path '../secrets.txt' must not contain '..'")),
    "missing input": (HEAD + "inputs: [nope.csv]\ntasks:\n  - {id: a, command: x}\n",
                      (5, 10, "input", "input 'nope.csv' does not exist")),
    "empty glob": (HEAD + "inputs: ['*.parquet']\ntasks:\n  - {id: a, command: x}\n",
                   (5, 10, "input", "input glob '*.parquet' matches no files")),
    "absolute output": (HEAD + "tasks:\n  - {id: a, command: x, outputs: [/tmp/out]}\n",
                        (6, 35, "path", "pattern '/tmp/out' must be relative, not absolute")),
    "output escapes": (HEAD + "tasks:\n  - id: a\n    command: x\n    outputs: [{pattern: ../../x, when: always}]\n",
                       (8, 15, "path", "pattern '../../x' must not contain '..'")),
    "download escapes": (HEAD + "tasks:\n  - {id: a, command: x}\ndownload: ['../*']\n",
                         (7, 12, "path", "pattern '../*' must not contain '..'")),
    "sweep over cap": (HEAD + "tasks:\n  - id: t-{a}-{b}\n    command: x\n    sweep:\n"
                       "      a: {start: 0, stop: 1000}\n      b: {start: 0, stop: 1000}\n",
                       (8, 5, "sweep-cap", "sweep expands to 1,000,000 tasks, over the cap of 1,000")),
    "foreach matches nothing": (HEAD + "inputs: [data/*.csv]\ntasks:\n  - id: t-{stem}\n    command: x\n"
                                "    foreach: {files: 'videos/*.mp4'}\n",
                                (9, 5, "foreach-empty", "foreach glob 'videos/*.mp4' matches none")),
    "format spec mismatch": (HEAD + "tasks:\n  - id: t-{v:04d}\n    command: x\n    sweep:\n"
                             "      v: {values: [a]}\n",
                             (6, 9, "template", "cannot fill template 't-{v:04d}'")),
    "placeholder inside quotes": (HEAD + "inputs: [data/*.csv]\ntasks:\n  - id: t-{index}\n"
                                  "    command: ffmpeg -i \"{file}\" out.mp4\n    foreach: {files: 'data/*.csv'}\n",
                                  (8, 14, "template", "placeholder {file} is inside double quotes: values are "
                                   "shell-quoted for you, so remove the quotes around it (or write {file!raw}")),
    "raw outside a command": (HEAD + "tasks:\n  - id: t-{index!raw}\n    command: x\n",
                              (6, 9, "template", "placeholder {index!raw}: the raw form is for commands only")),
    "task id ending in a newline": (HEAD + 'tasks:\n  - {id: "a\\n", command: x}\n',
                                    (6, 10, "task-id", "task id 'a\\n' is not a valid Batch task id")),
    "merge id ending in a newline": (HEAD + 'tasks:\n  - {id: a, command: x}\nmerge: {id: "m\\n", command: x}\n',
                                     (7, 13, "task-id", "merge id 'm\\n' is not a valid Batch task id")),
    "NUL in a command": (HEAD + 'tasks:\n  - {id: a, command: "x\\0y"}\n',
                         (6, 22, "nul-byte", "contains a NUL byte (at character 2), which no command line")),
    "NUL in an env value": (HEAD + 'env: {A: "\\0"}\ntasks:\n  - {id: a, command: x}\n',
                            (5, 10, "nul-byte", "contains a NUL byte (at character 1)")),
    "reserved env name": (HEAD + "tasks:\n  - {id: a, command: x, env: {BIGCOMPUTE_FILE: x}}\n",
                          (6, 31, "env-reserved", "environment variable BIGCOMPUTE_FILE: names starting with "
                           "BIGCOMPUTE_ are set by bigcompute")),
    "merge depends on too many string ids": (
        HEAD + "tasks:\n  - id: task-number-{i:06d}\n    command: x\n    sweep:\n      i: {start: 0, stop: 5000}\n"
        "merge: {command: y}\n", (10, 8, "dependency-size", "the merge task depends on 5,000 tasks")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_error_is_located(write, name):
    text, (line, col, code, message) = CASES[name]
    found = errors(write, text, max_tasks=1000 if name == "sweep over cap" else 1_000_000)
    assert any(f[:3] == (line, col, code) and message in f[3] for f in found), found


def test_unknown_pool_names_the_stack_pools(write):
    found = errors(write, HEAD + "tasks:\n  - {id: a, command: x}\n", pools=["render", "gpu"])
    assert found == [(4, 7, "unknown-pool", "pool 'cpu' is not a pool of the stack (pools: gpu, render)")]


def test_all_errors_of_a_file_are_reported_together(write):
    text = HEAD + "inputs: [/abs, ../up]\ntasks:\n  - {id: 'a b', command: x}\n  - {id: c, command: x, dependsOn: [zz]}\n"
    codes = sorted(f[2] for f in errors(write, text))
    assert codes == ["input", "input", "missing-dependency", "task-id"]


def test_oneof_error_names_the_intended_branch(write):
    text = HEAD + "tasks:\n  - id: t-{x}\n    command: c\n    sweep:\n      x: {start: 0, step: 2}\n"
    assert errors(write, text) == [(9, 10, "schema-required", "missing required key 'stop'")]


def test_input_symlink_out_of_repository_is_refused(write, repo, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text("s")
    (repo / "workloads" / "link.txt").symlink_to(outside)
    found = errors(write, HEAD + "inputs: [link.txt]\ntasks:\n  - {id: a, command: x}\n")
    assert found[0][2] == "input" and "resolves outside the repository" in found[0][3]


def test_control_characters_in_foreach_file_names_are_a_warning(write, repo):
    (repo / "workloads" / "data" / "new\nline.csv").write_text("x\n")
    lw = load_workload(write(HEAD + "inputs: [data/*.csv]\ntasks:\n  - id: t-{index}\n    command: x {file}\n"
                                    "    foreach: {files: 'data/*.csv'}\n"))
    assert [(d.line, d.column, d.code, d.message) for d in lw.warnings] == [
        (9, 22, "input-name", "input file 'data/new\\nline.csv' has a control character or newline in its name; "
                              "rename it")]


def test_reading_commands_skip_only_the_per_task_checks(write):
    """`status` loads with scan_tasks=False: the per-task checks (here a duplicate id, found only by expanding
    the tasks) are skipped, every other check still runs."""
    text = HEAD + "tasks:\n  - id: t-{v}\n    command: x\n    sweep:\n      v: {values: [1, 2, 1]}\n"
    assert [f[2] for f in errors(write, text)] == ["duplicate-id"]
    lw = load_workload(write(text), scan_tasks=False)
    assert (lw.workload.name, count_tasks(lw.workload, lw.files)) == ("demo", 3)
    with pytest.raises(WorkloadError, match="pool 'cpu' is not a pool of the stack"):
        load_workload(write(text), scan_tasks=False, pools=["gpu"])
