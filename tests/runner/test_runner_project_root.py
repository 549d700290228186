"""The runner's commands from a subfolder of the project act on the project: its workloads, its local target,
its out/ folder; nothing is created in the subfolder and no second local target starts."""

from __future__ import annotations

import json

from tests.runner.test_runner_cli import run, setup


def test_plan_apply_download_and_local_status_from_a_subfolder(repo, local_files, monkeypatch):
    name = setup(repo)
    deep = repo / "workloads" / "prog"
    monkeypatch.chdir(deep)
    plan = run("plan", "--stack", "test", "--format", "json")
    assert plan.exit_code == 0, plan.output
    [row] = [w for w in json.loads(plan.output)["workloads"] if w["workload"] == name]
    assert row["status"] == "new" and row["tasks"] == 5

    applied = run("apply", "--stack", "test", "--wait", "--poll-interval", "0.2")
    assert applied.exit_code == 0, applied.output
    assert "was not running" not in applied.output  # the project's target was found: none was started
    assert (repo / "out" / name / "merge" / "total.txt").read_text().split() == ["0", "1", "4", "9"]

    fetched = run("download", name, "--stack", "test", "--all")
    assert fetched.exit_code == 0, fetched.output
    assert (repo / "out" / name / "t3" / "sq.txt").read_text() == "9\n"

    status = run("local", "status")
    assert status.output.splitlines()[0] == f"local target of {repo.resolve()}"
    assert sorted(p.name for p in deep.iterdir()) == ["work.sh"]  # no .bigcompute/, no out/ down here
