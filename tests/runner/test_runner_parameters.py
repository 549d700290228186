"""Parameters and generators end to end on the local target (issue 16, items 3 and 7), through the real CLI:
`--set` values make distinct jobs whose tasks run with them, the same values change nothing, bad values
change nothing either; zip/combinations/random/repeat groups run; a task depends on a range of another
group's tasks (taskIdRanges) and receives outputs of the tasks it depends on."""

from __future__ import annotations

import json
import uuid

from tests.conftest import run_cli as run
from tests.runner.conftest import write_workload


def _jobs_of(clients, name: str) -> list[str]:
    return sorted(j.id for j in clients.batch.list_jobs() if j.id.startswith(f"{name}-"))


def _outputs(clients, job: str) -> dict[str, bytes]:
    container = clients.container("outputs")
    return {b.name.removeprefix(f"{job}/"): container.download_blob(b.name).readall()
            for b in container.list_blobs(name_starts_with=f"{job}/")
            if "/logs/" not in b.name and b.name != f"{job}/manifest.json"}


def test_two_set_values_make_two_jobs_whose_tasks_use_them_and_the_same_values_change_nothing(
        repo, local_files, clients):
    name = f"params-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, """\
        parameters:
          greeting: {type: string, allowed: [hello, bonjour]}
          copies: {type: int, default: 2, min: 1, max: 10}
        tasks:
          - id: say-{index}
            command: echo {greeting} {index} "$BIGCOMPUTE_PARAM_copies" > said.txt
            sweep: {i: {start: 0, stop: {param: copies}}}
            outputs: [said.txt]
        """)
    path = f"workloads/{name}.yaml"
    plan = run("plan", path, "--stack", "test", "--set", "greeting=hello", "--format", "json")
    assert plan.exit_code == 0, plan.output
    [row] = json.loads(plan.output)["workloads"]
    assert row["parameters"] == {"greeting": "hello", "copies": 2} and row["status"] == "new" and row["tasks"] == 2
    table = run("plan", path, "--stack", "test", "--set", "greeting=hello")
    assert "greeting=hello" in table.output  # the values that make the job, in the table too

    first = run("apply", path, "--stack", "test", "--set", "greeting=hello", "--wait", "--poll-interval", "0.2")
    assert first.exit_code == 0, first.output
    second = run("apply", path, "--stack", "test", "--set", "greeting=bonjour", "--set", "copies=3", "--wait",
                 "--poll-interval", "0.2")
    assert second.exit_code == 0, second.output
    jobs = _jobs_of(clients, name)
    assert len(jobs) == 2  # other values: another job
    said = {job: _outputs(clients, job) for job in jobs}
    assert sorted(said.values(), key=len) == [
        {"say-0/said.txt": b"hello 0 2\n", "say-1/said.txt": b"hello 1 2\n"},
        {"say-0/said.txt": b"bonjour 0 3\n", "say-1/said.txt": b"bonjour 1 3\n", "say-2/said.txt": b"bonjour 2 3\n"}]

    again = run("apply", path, "--stack", "test", "--set", "copies=3", "--set", "greeting=bonjour")
    assert again.exit_code == 0 and "is up to date" in again.output  # the same values: nothing to do
    assert _jobs_of(clients, name) == jobs


def test_bad_values_are_refused_before_anything_is_created(repo, local_files, clients, tmp_path):
    name = f"badparams-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, """\
        parameters:
          greeting: {type: string, allowed: [hello, bonjour]}
        tasks:
          - id: t
            command: echo {greeting}
        """)
    path = f"workloads/{name}.yaml"
    inputs_before = len(list(clients.container("inputs").list_blobs()))
    missing = run("apply", path, "--stack", "test")
    assert missing.exit_code == 2 and "has no default and no value was given" in missing.output
    values = tmp_path / "v.yaml"
    values.write_text("greeting: hallo\n")
    wrong = run("apply", path, "--stack", "test", "--values", str(values))
    assert wrong.exit_code == 2 and f"{values}:1:11: $.greeting" in wrong.output
    typo = run("apply", path, "--stack", "test", "--set", "greeting=hello", "--set", "greting=x")
    assert typo.exit_code == 2 and "no workload declares a parameter 'greting'" in typo.output
    control = run("apply", path, "--stack", "test", "--set", "greeting=hel\x07lo")
    assert control.exit_code == 2 and "control character U+0007" in control.output
    assert _jobs_of(clients, name) == []
    assert len(list(clients.container("inputs").list_blobs())) == inputs_before


def test_generators_ranges_and_outputs_passed_to_dependents_run(repo, local_files, clients):
    name = f"gens-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, """\
        tasks:
          - id: '{index}'
            name: draws
            command: echo {x} > x.txt
            random: {seed: 11, count: 2, draws: {x: {integer: {low: 100, high: 999}}}}
            repeat: 2
            outputs: [x.txt]
          - id: pair-{a}{b}
            name: pairs
            command: echo {a}{b} > p.txt
            combinations: {of: {values: [a, b, c]}, names: [a, b]}
            outputs: [p.txt]
          - id: zip-{n}
            command: echo {n}-{w} > z.txt
            zip: {n: {values: [1, 2]}, w: {values: [one, two]}}
            outputs: [z.txt]
          - id: sum
            command: >-
              cat $BIGCOMPUTE_TASK_OUTPUTS/0/x.txt $BIGCOMPUTE_TASK_OUTPUTS/3/x.txt > seen.txt &&
              cat $BIGCOMPUTE_TASK_OUTPUTS/pair-*/p.txt >> seen.txt &&
              ls $BIGCOMPUTE_TASK_OUTPUTS >> seen.txt
            dependsOn:
              - {start: 0, end: 3}
              - {task: '0', outputs: true}
              - {task: '3', outputs: true}
              - {group: pairs, outputs: true}
            outputs: [seen.txt]
        """)
    result = run("apply", f"workloads/{name}.yaml", "--stack", "test", "--wait", "--poll-interval", "0.2")
    assert result.exit_code == 0, result.output
    [job] = _jobs_of(clients, name)
    out = _outputs(clients, job)
    draws = [out[f"{i}/x.txt"] for i in range(4)]
    assert draws[0] == draws[1] and draws[2] == draws[3] and all(100 <= int(d) <= 999 for d in draws)
    assert {out[f"pair-{p}/p.txt"] for p in ("ab", "ac", "bc")} == {b"ab\n", b"ac\n", b"bc\n"}
    assert out["zip-1/z.txt"] == b"1-one\n" and out["zip-2/z.txt"] == b"2-two\n"
    seen = out["sum/seen.txt"].decode().split("\n")
    assert seen[:5] == [draws[0].decode().strip(), draws[3].decode().strip(), "ab", "ac", "bc"]
    # exactly the outputs it depends on: tasks 0 and 3 and the pairs, not 1, 2 or the zip group
    assert sorted(filter(None, seen[5:])) == ["0", "3", "pair-ab", "pair-ac", "pair-bc"]
    sum_task = clients.batch.get_task(job, "sum")
    assert [(r.start, r.end) for r in sum_task.depends_on.task_id_ranges] == [(0, 3)]
