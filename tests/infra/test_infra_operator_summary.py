"""The operator's change that `infra diff` leads with, from two loaded stacks (no git, no plan): each kind of
pool change in the stack file's own terms, and the ceilings derived from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bigcompute.config import load_stack
from bigcompute.infra.operator import markdown_lead, summarize, text_lead

HEAD = """\
config:
  bigcompute:location: westeurope
  bigcompute:environment: test
  bigcompute:pools:
"""
CPU = """\
    - name: cpu
      vmSize: Standard_D4s_v5
      image: ubuntu-24.04
      scale: {fixed: {dedicated: 2}}
      pricing: {dedicatedPerHour: 0.192, spotPerHour: 0.04, currency: EUR}
"""
GPU = """\
    - name: gpu
      vmSize: Standard_NC6s_v3
      image: ubuntu-hpc-22.04-gpu
      scale: {autoscale: {formula: "$TargetDedicatedNodes = 1;"}}
"""


@pytest.fixture
def stack(tmp_path: Path):
    count = iter(range(100))

    def write(pools: str):
        path = tmp_path / f"s{next(count)}" / "stacks" / "Pulumi.test.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(HEAD + pools)
        return load_stack(path)

    return write


def test_fixed_to_a_preset_names_the_scale_and_its_ceiling(stack):
    before = stack(CPU)
    after = stack(CPU.replace("scale: {fixed: {dedicated: 2}}",
                              "scale: {autoscale: {preset: scale-to-zero, maxNodes: 6}}"))
    [change] = summarize(before, after).pools
    # 2 -> 6 nodes of 4 vCPUs at 0.192 EUR each
    assert change.line() == ("cpu: scale fixed → preset scale-to-zero, maxNodes 6, max 0.38 EUR/h → 1.15 EUR/h, "
                             "vCPUs 8 → 24")


def test_added_removed_and_raw_formula_pools(stack):
    before = stack(CPU + GPU)
    after = stack(CPU.replace("dedicated: 2", "dedicated: 2, spot: 1") +
                  GPU.replace("= 1;", "= 2;").replace("name: gpu", "name: gpu2"))
    lines = summarize(before, after).lines()
    assert lines == [
        # 2 dedicated at 0.192 + 1 spot at 0.04
        "cpu: spot 0 → 1, max 0.38 EUR/h → 0.42 EUR/h, vCPUs 8 → 12",
        "gpu2: new pool, Standard_NC6s_v3, formula, no stated maximum on no metric (time of day only), every "
        "PT15M; maximum unknown (a raw formula: bigcompute cannot read its ceiling)",
        "gpu: pool removed (was maximum unknown (a raw formula: bigcompute cannot read its ceiling))"]


def test_a_changed_raw_formula_points_at_the_formula_diff(stack):
    [change] = summarize(stack(GPU), stack(GPU.replace("= 1;", "= 3;"))).pools
    assert change.fields == ("formula changed (see below)",)


def test_nothing_changed_leads_with_nothing(stack):
    summary = summarize(stack(CPU), stack(CPU))
    assert summary.empty and text_lead(summary, None, "x") == [] and markdown_lead(summary, None) == []


def test_a_side_that_does_not_load_says_so_instead_of_guessing():
    summary = summarize(None, None, "the stack file at main (1234abcd) does not load with this version")
    assert summary.lines() == ["summary unavailable: the stack file at main (1234abcd) does not load with this version"]
    assert text_lead(summary, None, "stacks/Pulumi.test.yaml")[1] == \
        "  summary unavailable: the stack file at main (1234abcd) does not load with this version"
