"""`bigcompute infra diff` as the pull-request workflow runs it, in a throwaway git repository holding a copy
of this project: the working tree's graph against the one at a git ref, each planned with its own code."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bigcompute.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
# the git identity of the throwaway commits; GIT_* variables of a caller (a git hook) must not leak in
GIT_ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}

# A stack of the test's own, so the exact output does not depend on how dev and prod are sized today.
REVIEW_STACK = """\
config:
  bigcompute:location: westeurope
  bigcompute:environment: review
  bigcompute:allowSpot: true
  bigcompute:network:
    addressSpace: 10.40.0.0/16
    subnetPrefix: 10.40.0.0/20
    publicIps: none
  bigcompute:pools:
    - name: cpu
      vmSize: Standard_D2s_v5
      image: ubuntu-24.04
      scale:
        fixed: {dedicated: 1, spot: 0}
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True,
                          text=True).stdout.strip()


def project_files() -> list[str]:
    """The project as a fresh clone would have it, plus code not committed yet (this change's own)."""
    tracked = git(REPO, "ls-files", "-z").split("\0")
    # untracked code only: other untracked files (virtualenvs, scratch data) are not the project's
    new = git(REPO, "ls-files", "-z", "--others", "--exclude-standard", "--", "bigcompute", "components").split("\0")
    return sorted({f for f in tracked + new if f and (REPO / f).is_file()})


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(a git repository holding a copy of the project and the review stack, its first commit)."""
    if not (REPO / ".git").exists():
        pytest.fail("the project is not a git checkout: its files cannot be listed")
    root = tmp_path_factory.mktemp("gitops-repo")
    for name in project_files():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, root / name)
    (root / "stacks" / "Pulumi.review.yaml").write_text(REVIEW_STACK)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root, git(root, "rev-parse", "HEAD")


@pytest.fixture
def checkout(origin: tuple[Path, str]) -> Iterator[Path]:
    """The repository's working tree, back at its first commit after the test."""
    root, first = origin
    yield root
    git(root, "reset", "-q", "--hard", first)
    git(root, "clean", "-qfdx", "--", "stacks", "components")


def infra_diff(root: Path, stack: str, base: str = "HEAD", fmt: str = "text"):
    return CliRunner().invoke(cli, ["infra", "diff", "--stack", stack, "--base", base, "--format", fmt,
                                    "--project-dir", str(root)], catch_exceptions=False)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} no longer holds {old!r}: update the test"
    path.write_text(text.replace(old, new))


def test_resized_and_reshaped_dev_pools_in_markdown(checkout):
    stack_file = checkout / "stacks" / "Pulumi.dev.yaml"
    stack = yaml.safe_load(stack_file.read_text())
    pools = stack["config"]["bigcompute:pools"]
    auto = next(p for p in pools if "autoscale" in p["scale"])
    fixed = next(p for p in pools if "fixed" in p["scale"])
    old_max, old_vm = auto["scale"]["autoscale"]["maxNodes"], fixed["vmSize"]
    auto["scale"]["autoscale"]["maxNodes"] = new_max = old_max * 2 + 1
    fixed["vmSize"] = new_vm = "Standard_F72s_v2" if old_vm != "Standard_F72s_v2" else "Standard_F64s_v2"
    stack_file.write_text(yaml.safe_dump(stack, sort_keys=False))
    head = git(checkout, "rev-parse", "HEAD")[:8]

    result = infra_diff(checkout, "dev", fmt="markdown")

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("### infra diff: stack `dev`\n\n"
                          f"`HEAD ({head})` → working tree: **1 to replace**, 0 to delete, 0 to create, 1 to update.\n")
    assert (f"> **pool '{fixed['name']}' is replaced because vmSize changed: Azure deletes the pool, its nodes "
            "and any task running on them, then creates it again**") in out
    assert f"| -/+ | `pool-{fixed['name']}-pool` | batch:Pool | replace (forced by `vmSize`) |" in out
    assert f"| ~ | `pool-{auto['name']}-pool` | batch:Pool | update (`scaleSettings.autoScale.formula`) |" in out
    assert f"| `vmSize` **(forces replacement)** | `{old_vm}` | `{new_vm}` |" in out
    assert f"| vm size | `{old_vm}` | `{new_vm}` |" in out
    # the autoscale formula is shown as the lines that changed
    block = out.split("`scaleSettings.autoScale.formula`:\n\n```diff\n", 1)[1].split("```", 1)[0]
    assert any(line.startswith("-") and str(old_max) in line for line in block.splitlines())
    assert any(line.startswith("+") and str(new_max) in line for line in block.splitlines())


def test_network_exposure_and_scale_in_text(checkout):
    stack_file = checkout / "stacks" / "Pulumi.review.yaml"
    edit(stack_file, "publicIps: none", "publicIps: batchManaged")
    edit(stack_file, "fixed: {dedicated: 1, spot: 0}", "fixed: {dedicated: 3, spot: 0}")

    result = infra_diff(checkout, "review")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # deleted: the NAT gateway and its address, the node-management private link (component, zone, VNet
    # link, endpoint, DNS zone group); updated: the subnet, and the account, whose public node-management
    # endpoint nodes with public IPs use again
    assert lines[1] == "1 to replace, 7 to delete, 0 to create, 2 to update"
    assert lines[2] == ("WARNING: pool 'cpu' is replaced because networkConfiguration.publicIPAddressConfiguration"
                        ".provision changed: Azure deletes the pool, its nodes and any task running on them, then "
                        "creates it again")
    assert "-/+ replace  batch:Pool pool-cpu-pool (cpu)" in lines
    assert "      scale: fixed: 1 dedicated, 0 spot -> fixed: 3 dedicated, 0 spot" in lines
    assert "      scaleSettings.fixedScale.targetDedicatedNodes: 1 -> 3" in lines
    assert ("      networkConfiguration.publicIPAddressConfiguration.provision: NoPublicIPAddresses -> BatchManaged"
            "  (forces replacement)") in lines
    network = next(line for line in lines if line.startswith("      network: "))
    assert ", no public IPs -> subnet " in network and network.endswith(", public IPs (Batch managed)")
    # the NAT gateway that gave private nodes their way out goes, with its public address
    assert any(line.startswith("-   delete   network:NatGateway ") for line in lines)
    assert any(line.startswith("-   delete   network:PublicIPAddress ") for line in lines)
    assert any(line.startswith("-   delete   network:PrivateEndpoint batch-private-link-endpoint ") for line in lines)
    assert "      networkProfile.nodeManagementAccess.defaultAction: Deny -> (absent)" in lines
    assert "      node management: Deny -> any network" in lines


def test_each_side_is_planned_with_its_own_code(checkout):
    """A change to components/ alone shows: the base graph comes from the code at the ref, not the
    working tree's nor the installed package's. The exact output also shows that planning the same
    stack twice gives the same graph: nothing else differs."""
    platform = checkout / "components" / "platform.py"
    probe = ('\n\n_declare_platform = declare_platform\n\n\ndef declare_platform(stack):  # noqa: F811\n'
             '    import pulumi\n    pulumi.export("codeProbe", "{side}")\n    return _declare_platform(stack)\n')
    platform.write_text(platform.read_text() + probe.replace("{side}", "base"))
    git(checkout, "commit", "-q", "-am", "probe")
    edit(platform, '"codeProbe", "base"', '"codeProbe", "working tree"')

    result = infra_diff(checkout, "review")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        "0 to replace, 0 to delete, 0 to create, 0 to update, 1 stack output(s) changed",
        "",
        "stack outputs (the runner's contract):",
        "      codeProbe: base -> working tree",
    ]


def test_a_bad_ref_is_one_sentence_and_exit_2(checkout):
    result = infra_diff(checkout, "review", base="origin/no-such-branch")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == ("infra diff: 'origin/no-such-branch' is not a commit in this repository: check its "
                             "spelling, or fetch it first (e.g. `git fetch origin main`, or `fetch-depth: 0` in "
                             "actions/checkout)\n")


@pytest.mark.parametrize(("stack", "message"), [
    ("nope", "infra diff: there is no stack 'nope': stacks/Pulumi.nope.yaml exists neither in the working tree "
             "nor at HEAD ("),
    ("../dev", "infra diff: '../dev' is not a stack name (letters, digits, '-', '_' and '.')"),
])
def test_an_unknown_stack_exits_2(checkout, stack, message):
    result = infra_diff(checkout, stack)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)


def test_a_stack_added_by_the_change_is_all_creates(checkout):
    shutil.copy(checkout / "stacks" / "Pulumi.review.yaml", checkout / "stacks" / "Pulumi.extra.yaml")
    result = infra_diff(checkout, "extra")
    assert result.exit_code == 0, result.output
    summary = result.stdout.splitlines()[1]
    assert summary.startswith("0 to replace, 0 to delete, ") and " to create, 0 to update, " in summary
    assert "+   create   batch:Pool pool-cpu-pool (cpu)" in result.stdout


def test_an_invalid_stack_file_in_the_working_tree_exits_2_with_its_diagnostics(checkout):
    edit(checkout / "stacks" / "Pulumi.review.yaml", "vmSize: Standard_D2s_v5", "vmSize: 42")
    result = infra_diff(checkout, "review")
    assert result.exit_code == 2
    first, *diagnostics = result.stderr.splitlines()
    assert first == "infra diff: the stack file of 'review' in the working tree is invalid:"
    # the file named as in the repository, not by the path of the tree that was planned
    assert diagnostics == ["stacks/Pulumi.review.yaml:11:15: $.config.bigcompute:pools[0].vmSize: expected string, "
                           "got 42"]
