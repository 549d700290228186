"""Azure's rules under the Pulumi program: the stacks Azure would reject (tests/data/bad/stacks) stop
`infra plan` at their line with the rule's source, and what a valid stack says reaches the pool resources."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bigcompute.cli.infra import infra_group
from bigcompute.infra.plan import build_plan

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad" / "stacks"
# corpus case -> the page its message must cite
CASES = {
    "storage-premium-sku.yaml": "https://learn.microsoft.com/azure/batch/accounts",
    "task-slots-over-vcpus.yaml": "https://learn.microsoft.com/azure/batch/batch-parallel-node-tasks",
    "vm-size-unknown.yaml": "https://learn.microsoft.com/azure/batch/batch-parallel-node-tasks",
    "containers-on-canonical-image.yaml": "https://learn.microsoft.com/azure/batch/batch-docker-container-workloads",
    "deallocation-contradicts-preset.yaml": "https://learn.microsoft.com/azure/batch/batch-automatic-scaling",
    "deallocation-ignored-by-formula.yaml": "https://learn.microsoft.com/azure/batch/batch-automatic-scaling",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_infra_plan_refuses_what_azure_would_reject(case, project):
    text = (CORPUS / case).read_text()
    line, column, code = re.match(r"# expect: (\d+):(\d+) (\S+)", text).groups()
    folder = project(text)
    result = CliRunner().invoke(infra_group, ["plan", "--stack", "test", "--project-dir", str(folder)])
    assert result.exit_code == 2, result.output
    assert f"{folder / 'stacks' / 'Pulumi.test.yaml'}:{line}:{column}:" in result.stderr
    assert CASES[case] in result.stderr
    assert "Traceback" not in result.output + result.stderr


def _pool_inputs(plan, name: str) -> dict:
    return next(r.inputs for r in plan.graph.resources("azure-native:batch:Pool") if r.inputs["poolName"] == name)


def test_prod_render_pool_formula_requeues(stack_plans):
    # stacks/Pulumi.prod.yaml: render says `nodeDeallocation: requeue` on a work-hours preset; Batch reads the
    # option from the formula on autoscale pools, so the formula must say it
    formula = _pool_inputs(stack_plans("prod"), "render")["scaleSettings"]["autoScale"]["formula"]
    assert "$NodeDeallocationOption = requeue;" in formula.splitlines()
    cpu = _pool_inputs(stack_plans("prod"), "cpu")["scaleSettings"]["autoScale"]["formula"]
    assert "$NodeDeallocationOption = taskcompletion;" in cpu.splitlines()


def test_containers_on_the_hpc_image_plan(project, stack_text):
    pool = ("    - name: cpu\n      vmSize: Standard_D4s_v5\n      image: ubuntu-hpc-22.04\n      taskSlotsPerNode: 16\n"
            "      scale: {fixed: {dedicated: 1}}\n      containerImages: [ghcr.io/acme/render:1]\n")
    vm = _pool_inputs(build_plan("test", project(stack_text(pools=pool))), "cpu")
    config = vm["deploymentConfiguration"]["virtualMachineConfiguration"]
    assert config["imageReference"]["publisher"] == "microsoft-dsvm" and config["imageReference"]["offer"] == "ubuntu-hpc"
    assert config["containerConfiguration"]["containerImageNames"] == ["ghcr.io/acme/render:1"]
    assert vm["taskSlotsPerNode"] == 16
