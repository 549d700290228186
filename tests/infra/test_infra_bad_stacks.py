"""A bad stack file fails with its path, line and field, before the program declares any resource."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bigcompute.cli.infra import infra_group
from bigcompute.config import ConfigError
from bigcompute.infra.mocks import AzureMocks
from bigcompute.infra.plan import build_plan
from bigcompute.infra.runtime import ProgramError, run_program

HEAD = """\
config:
  bigcompute:location: westeurope
  bigcompute:environment: test
  bigcompute:pools:
    - name: cpu
"""
# (pool lines after `- name: cpu`, expected line, expected field path, words in the message)
CASES = {
    "unknown-key": ("      vmSize: Standard_D2s_v5\n      image: ubuntu-24.04\n      scale: {fixed: {dedicated: 1}}\n"
                    "      slotz: 4\n", 9, "pools[0].slotz", "unknown key"),
    "wrong-type": ("      vmSize: Standard_D2s_v5\n      image: ubuntu-24.04\n      taskSlotsPerNode: four\n"
                   "      scale: {fixed: {dedicated: 1}}\n", 8, "pools[0].taskSlotsPerNode", "integer"),
    "unknown-image": ("      vmSize: Standard_D2s_v5\n      image: ubuntu-18.04\n      scale: {fixed: {dedicated: 1}}\n",
                      7, "pools[0].image", "unknown image alias"),
    "pool-name-clash": ("      vmSize: Standard_D2s_v5\n      image: ubuntu-24.04\n      scale: {fixed: {dedicated: 1}}\n"
                        "    - name: CPU\n      vmSize: Standard_D2s_v5\n      image: ubuntu-24.04\n"
                        "      scale: {fixed: {dedicated: 1}}\n", 9, "pools[1].name", "already used"),
    "bad-formula": ("      vmSize: Standard_D2s_v5\n      image: ubuntu-24.04\n      scale:\n        autoscale:\n"
                    "          formula: \"$TargetDedicatedNodes = ;\"\n", 10, "pools[0].scale.autoscale.formula",
                    "line 1, column"),
    # valid for the schema, impossible for Batch: caught by the pool spec, still located in the file
    "apt-on-windows": ("      vmSize: Standard_D2s_v5\n      image: windows-2022\n      scale: {fixed: {dedicated: 1}}\n"
                       "      startTask: {aptPackages: [curl], elevated: true}\n", 9, "pools[0].startTask.aptPackages",
                       "Linux"),
    # plans with 0 violations otherwise, then nodes are unusable (node management closed, public IPs)
    "closed-account-public-nodes": ("      vmSize: Standard_D2s_v5\n      image: ubuntu-24.04\n"
                                    "      scale: {fixed: {dedicated: 1}}\n"
                                    "  bigcompute:batch: {publicNetworkAccess: false, runnerAccess: {mode: privateEndpoint}}\n",
                                    9, "batch.publicNetworkAccess", "publicIps: none"),
    # plans otherwise, then every submit gets 403 (account endpoint closed, no private path for the runner)
    "closed-account-no-runner-path": ("      vmSize: Standard_D2s_v5\n      image: ubuntu-24.04\n"
                                      "      scale: {fixed: {dedicated: 1}}\n"
                                      "  bigcompute:batch: {publicNetworkAccess: false}\n"
                                      "  bigcompute:network: {addressSpace: 10.40.0.0/16, subnetPrefix: 10.40.0.0/20, "
                                      "publicIps: none}\n", 9, "batch.publicNetworkAccess", "runner cannot reach"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_stack_is_located_before_any_resource(case, project):
    body, line, field, words = CASES[case]
    folder = project(HEAD + body)
    stack_file = folder / "stacks" / "Pulumi.test.yaml"
    with pytest.raises(ProgramError) as raised:
        run_program(folder / "__main__.py", "test")
    assert raised.value.graph.resources() == [], "resources were declared before the stack file was checked"
    error = raised.value.__cause__
    assert isinstance(error, ConfigError)
    diagnostic = error.diagnostics[0]
    assert (diagnostic.file, diagnostic.line) == (str(stack_file), line), str(error)
    assert str(diagnostic).startswith(f"{stack_file}:{line}:")
    assert f"$.config.bigcompute:{field}" in str(diagnostic)
    assert words in diagnostic.message


def test_plan_raises_the_located_error(project):
    body, line, _, _ = CASES["unknown-image"]
    with pytest.raises(ConfigError) as raised:
        build_plan("test", project(HEAD + body))
    assert raised.value.diagnostics[0].line == line


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_cli_exits_2_with_the_location_and_no_traceback(fmt, project):
    folder = project(HEAD + CASES["bad-formula"][0])
    result = CliRunner().invoke(infra_group, ["plan", "--stack", "test", "--project-dir", str(folder),
                                              "--format", fmt])
    assert result.exit_code == 2
    assert f"{folder / 'stacks' / 'Pulumi.test.yaml'}:10:" in result.stderr
    assert "$.config.bigcompute:pools[0].scale.autoscale.formula" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_missing_stack_file(tmp_path, project):
    folder = project(HEAD + CASES["unknown-image"][0])
    result = CliRunner().invoke(infra_group, ["plan", "--stack", "nope", "--project-dir", str(folder)])
    assert result.exit_code == 2
    assert "Pulumi.nope.yaml" in result.stderr and "Traceback" not in result.stderr


def test_a_stack_refuses_credentials_of_another_subscription(project, stack_text):
    """`pulumi up` signed in to the wrong subscription stops before declaring anything, at the stack's line."""
    named, other = "11111111-1111-4111-8111-111111111111", "99999999-9999-4999-8999-999999999999"
    folder = project(stack_text(extra=f"bigcompute:subscriptionId: {named}\n"))
    with pytest.raises(ProgramError) as raised:
        run_program(folder / "__main__.py", "test", AzureMocks(subscription=other))
    assert raised.value.graph.resources() == [], "resources were declared in the wrong subscription"
    diagnostic = raised.value.__cause__.diagnostics[0]
    assert (diagnostic.line, diagnostic.code) == (5, "wrong-subscription")
    assert named in diagnostic.message and other in diagnostic.message
    # signed in to the right one (any letter case), the same stack plans
    graph = run_program(folder / "__main__.py", "test", AzureMocks(subscription=named.upper()))
    assert graph.resources("azure-native:batch:Pool")
