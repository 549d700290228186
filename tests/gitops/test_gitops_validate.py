"""The pull-request workflow's first check: `bigcompute validate --format github` prints one annotation per
problem, which GitHub shows on the offending line of the pull request's diff."""

from __future__ import annotations

import textwrap

from click.testing import CliRunner

from bigcompute.cli.main import cli

BROKEN = """\
    apiVersion: bigcompute/v1
    kind: Workload
    name: broken
    pool: gpu
    tasks:
      - id: sim-{task}
        command: python3 sim.py --seed {seed}
        sweep:
          task: {start: 0, stop: 4}
    """

# a comma in the file name and a percent sign in a key: both must be escaped, or GitHub misreads the line
ODD = """\
    apiVersion: bigcompute/v1
    kind: Workload
    name: odd
    pool: cpu
    tasks:
      - {id: a, command: echo, share%: 1}
    """

FINE = """\
    apiVersion: bigcompute/v1
    kind: Workload
    name: fine
    pool: cpu
    tasks:
      - {id: hello, command: "echo hello, world"}
    """


def test_broken_workloads_give_github_annotations_exactly(repo):
    for name, body in {"broken": BROKEN, "odd,name": ODD, "fine": FINE}.items():
        (repo / "workloads" / f"{name}.yaml").write_text(textwrap.dedent(body))

    result = CliRunner().invoke(cli, ["validate", "workloads/", "--stack", "test", "--format", "github"])

    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        "::error file=workloads/broken.yaml,line=4,col=7,title=bigcompute unknown-pool::"
        "$.pool: pool 'gpu' is not a pool of the stack (pools: cpu)",
        "::error file=workloads/broken.yaml,line=7,col=14,title=bigcompute template::"
        "$.tasks[0].command: unknown placeholder {seed}; available here: index, task, workload",
        "::error file=workloads/odd%2Cname.yaml,line=6,col=28,title=bigcompute unknown-key::"
        "$.tasks[0].share%25: unknown key 'share%25'; expected one of: combinations, command, container, "
        "dependsOn, displayName, env, foreach, id, multiInstance, name, outputs, random, repeat, settings, sweep, zip",
        "4 files checked, 2 invalid",
    ]


def test_valid_workloads_give_no_annotation(repo):
    (repo / "workloads" / "fine.yaml").write_text(textwrap.dedent(FINE))
    result = CliRunner().invoke(cli, ["validate", "workloads/", "--stack", "test", "--format", "github"])
    assert result.exit_code == 0
    assert result.stdout == "2 files checked, 0 invalid\n"
