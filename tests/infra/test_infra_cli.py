"""`bigcompute infra plan`: the table a reviewer reads, the JSON a tool reads, and the exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bigcompute.cli.infra import infra_group

REPO = Path(__file__).resolve().parents[2]


def plan(*args: str):
    return CliRunner().invoke(infra_group, ["plan", *args])


def test_table_shows_the_full_graph_for_prod():
    result = plan("--stack", "prod", "--project-dir", str(REPO))
    assert result.exit_code == 0, result.output + result.stderr
    out = result.stdout
    for text in ("pools", "a change to deploymentConfiguration", "update in place", "stack prod", "pool-cpu-pool", "batch:Pool", "vm size: Standard_D16s_v5", "task slots: 16 per node, pack",
                 "scale: autoscale every PT5M", "$TargetDedicatedNodes", "no public IPs",
                 "replaced when changed: vmSize, deploymentConfiguration, networkConfiguration",
                 "storage:StorageAccount", "public blob access: False", "Storage Blob Data Reader",
                 "monitor:DiagnosticSetting", "network:NetworkSecurityGroup", "stack outputs (the runner's contract)",
                 "batchAccountEndpoint", "policy: all rules pass"):
        assert text in out, text
    assert result.stderr == ""


def test_json_is_the_graph_with_review_properties():
    result = plan("--stack", "dev", "--format", "json", "--project-dir", str(REPO))
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["stack"] == "dev" and data["violations"] == []
    assert set(data["outputs"]["poolIds"]) == {"cpu", "render", "mpi"}
    pools = {r["inputs"]["poolName"]: r for r in data["resources"] if r["type"] == "azure-native:batch:Pool"}
    assert pools["render"]["review"]["scale"] == "fixed: 0 dedicated, 1 spot"
    assert "vmSize" in pools["cpu"]["replaceOnChanges"]
    assert data["resources"][0]["type"] == "pulumi:pulumi:Stack" and data["resources"][0]["depth"] == 0


def test_a_policy_violation_exits_2(project, stack_text, fixed_pool):
    folder = project(stack_text(allow_spot=False, pools=fixed_pool(spot=2)))
    result = plan("--stack", "test", "--project-dir", str(folder))
    assert result.exit_code == 2
    assert "policy violation [pool-spot-allowed] pool-cpu-pool: the stack does not allow spot nodes" in result.stderr
    assert "1 policy violation(s)" in result.stdout
