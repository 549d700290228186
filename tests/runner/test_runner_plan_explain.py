"""`bigcompute plan` explains itself on the local target: a header naming where it runs, the fields and input
files a change touched, what becomes of the superseded job, the run's cost (the pool's hourly cost before any
history, then the workload's own task times), and `--detailed-exitcode`."""

from __future__ import annotations

import json
import uuid

from bigcompute.cli.exit import EXIT_CHANGES
from tests.conftest import run_cli as run
from tests.runner.conftest import STACK, write_workload

# the runner tests' stack with prices (the test's own figures): 2 task slots per node, 0.5 an hour
PRICED = STACK.replace("scale: {fixed: {dedicated: 1}}}", "scale: {fixed: {dedicated: 3}},\n       pricing: {"
                       "dedicatedPerHour: 0.5, spotPerHour: 0.1, currency: EUR, source: test sheet, asOf: 2026-12-01}}")
WORK = """\
inputs: [prog/work.sh]
defaults: {timeout: PT10M, retries: 1}
job: {maxWallClockTime: PT2H}
tasks:
  - id: t{i}
    command: sh prog/work.sh {i}
    sweep: {i: {start: 0, stop: 4}}
"""


def setup(repo) -> str:
    (repo / "stacks" / "Pulumi.test.yaml").write_text(PRICED)
    (repo / "workloads" / "prog").mkdir(exist_ok=True)
    (repo / "workloads" / "prog" / "work.sh").write_text("sleep 0.3; echo $1\n")
    name = f"explained-{uuid.uuid4().hex[:6]}"
    write_workload(repo, name, WORK)
    return name


def test_plan_names_target_cost_change_and_superseded_job(repo, local_files, local_target):
    name = setup(repo)

    first = run("plan", "--stack", "test", "--detailed-exitcode")

    assert first.exit_code == EXIT_CHANGES, first.output
    lines = first.stdout.splitlines()
    assert lines[0] == (f"plan: target local, stack test, Batch account {local_target.batch_account} "
                        f"({local_target.batch_endpoint}), storage account {local_target.storage_account}")
    assert "cost (prices: EUR, test sheet, as of 2026-12-01):" in lines
    # 4 tasks on 2-slot nodes: 2 nodes at 0.5 = 1.00/h; ceiling: 4 tasks x 2 tries x 10 min / 2 slots = 0.67 h
    # of node time x 0.5 = 0.33 (lower than PT2H x 1.00/h)
    assert (f"  {name}: 1.00 EUR/h while 2 nodes run, at most 0.33 EUR (no task history: the pool's hourly cost x "
            "the nodes the run can use, all dedicated; the ceiling is 4 tasks x 2 tries x 10.0 min timeout)") in lines

    assert run("apply", "--stack", "test", "--wait", "--poll-interval", "0.2").exit_code == 0
    again = run("plan", "--stack", "test", "--detailed-exitcode", "--format", "json")
    assert again.exit_code == 0, again.output  # nothing to do: 0 even with --detailed-exitcode
    data = json.loads(again.stdout)
    assert data["hasChanges"] is False and data["target"]["kind"] == "local"
    assert data["explanations"][name]["cost"] is None  # nothing runs, nothing costs
    [old_job] = [row["job"] for row in data["workloads"] if row["workload"] == name]

    script = repo / "workloads" / "prog" / "work.sh"
    script.write_text("sleep 0.3; echo changed $1\n")
    path = repo / "workloads" / f"{name}.yaml"
    path.write_text(path.read_text().replace("timeout: PT10M", "timeout: PT5M"))

    changed = run("plan", "--stack", "test", "--detailed-exitcode", "--format", "json")

    assert changed.exit_code == EXIT_CHANGES, changed.output
    explained = json.loads(changed.stdout)["explanations"][name]
    assert (explained["fields"], explained["inputs"]) == (["defaults.timeout"], ["changed prog/work.sh"])
    cost = explained["cost"]
    assert cost["basis"] == "history" and cost["currency"] == "EUR"
    # each task slept 0.3 s: the band is 4 tasks x their run times / 2 slots, priced at 0.5 an hour
    low_hours, high_hours = cost["nodeHours"]
    assert 4 * 0.3 / 3600 / 2 <= low_hours <= high_hours < 4 * 5 / 3600 / 2
    assert cost["low"] == low_hours * 0.5 and cost["high"] == high_hours * 0.5
    assert f"of 4 tasks of {old_job} on the local target" in cost["how"]

    out = run("plan", "--stack", "test", "--format", "markdown").stdout
    assert out.startswith(f"plan: target local, stack test, Batch account {local_target.batch_account} ")
    assert f"- {name}: fields defaults.timeout; inputs changed prog/work.sh\n" in out
    assert f"  - supersedes `{old_job}` (completed): kept; `apply --prune` deletes it\n" in out
    # seconds of work: below a cent, said so rather than rounded to nothing
    assert f"- {name}: < 0.01 EUR - < 0.01 EUR (history: 4 tasks x " in out
    assert "<sub>prices: EUR, test sheet, as of 2026-12-01</sub>" in out


def test_a_pool_without_prices_gets_no_invented_cost(repo, local_files):
    name = setup(repo)
    (repo / "stacks" / "Pulumi.test.yaml").write_text(STACK)
    result = run("plan", "--stack", "test", f"workloads/{name}.yaml")
    assert result.exit_code == 0, result.output
    assert f"no cost for {name}: the stack gives their pool no pricing" in result.stdout
    assert "cost (prices" not in result.stdout


def test_an_active_superseded_job_and_a_job_without_spec_record(repo, local_files, clients):
    name = setup(repo)
    path = repo / "workloads" / f"{name}.yaml"
    path.write_text(path.read_text().replace("sh prog/work.sh {i}", "sleep 60"))
    assert run("apply", "--stack", "test").exit_code == 0  # no --wait: the job stays active
    try:
        first = json.loads(run("plan", "--stack", "test", "--format", "json").stdout)
        [old_job] = [r["job"] for r in first["workloads"] if r["workload"] == name]
        path.write_text(path.read_text().replace("sleep 60", "sleep 61"))

        active = json.loads(run("plan", "--stack", "test", "--format", "json").stdout)["explanations"][name]

        assert active["fields"] == ["tasks[0].command"] and active["inputs"] == []
        assert active["superseded"] == [{"job": old_job, "state": "active", "fate": (
            "keeps running; `apply --prune --force` terminates and deletes it, `apply --prune` skips it")}]
        # a job from before apply kept spec records: the change is said to be unknown, not guessed
        [record] = [b.name for b in clients.container("inputs").list_blobs(name_starts_with=f".specs/{name}/")]
        clients.container("inputs").delete_blob(record)
        text = run("plan", "--stack", "test").stdout
        assert f"  {name}: unknown: {old_job} has no spec record (created before jobs kept one)\n" in text
    finally:
        assert run("delete", name, "--stack", "test", "--yes", "--force").exit_code == 0
