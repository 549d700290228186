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
    # the operator's change leads, in the stack file's terms, before the generated resources
    lead, rest = out.split("\n\n<sub>prices: ", 1)
    assert lead.startswith("### infra diff: stack `dev`\n\n**The change**\n\n"
                           f"- **{auto['name']}**: maxNodes {old_max} → {new_max}, max $")
    assert f"- **{fixed['name']}**: vmSize {old_vm} → {new_vm}, " in lead
    assert f"`HEAD ({head})` → working tree: **1 to replace**, 0 to delete, 0 to create, 1 to update.\n" in rest
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
    # the operator's change first: 3 x Standard_D2s_v5 (2 vCPUs), no pricing in this stack
    assert lines[1:3] == ["the change (stacks/Pulumi.review.yaml):", "  cpu: dedicated 1 → 3, vCPUs 2 → 6"]
    del lines[1:3]
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
    lines = result.stdout.splitlines()
    assert lines[1:3] == ["the change (stacks/Pulumi.extra.yaml):",
                          "  cpu: new pool, Standard_D2s_v5, fixed 1 dedicated; at most 1 node, 2 vCPUs, no pricing"]
    summary = lines[3]
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


# Two priced pools, so the lead shows a pool's line and the stack's total; prices given in the file, as a
# reviewer would read them (the figures are the test's own).
COST_STACK = """\
config:
  bigcompute:location: westeurope
  bigcompute:environment: cost
  bigcompute:pools:
    - name: cpu
      vmSize: Standard_D16s_v5
      image: ubuntu-24.04
      scale:
        autoscale: {preset: queue-pending, minNodes: 1, maxNodes: 40, evaluationInterval: PT5M}
      pricing: {dedicatedPerHour: 0.768, spotPerHour: 0.154, source: test sheet, asOf: 2026-12-01}
    - name: render
      vmSize: Standard_F32s_v2
      image: ubuntu-24.04
      scale:
        autoscale: {preset: work-hours, minNodes: 0, maxNodes: 20, timeZone: Europe/Amsterdam}
      pricing: {dedicatedPerHour: 1.353, spotPerHour: 0.271, source: test sheet, asOf: 2026-12-01}
"""


@pytest.fixture
def cost_stack(checkout: Path) -> Path:
    path = checkout / "stacks" / "Pulumi.cost.yaml"
    path.write_text(COST_STACK)
    git(checkout, "add", str(path))
    git(checkout, "commit", "-q", "-m", "cost stack")
    return path


def test_the_change_leads_with_preset_size_cost_and_vcpus(cost_stack):
    edit(cost_stack, "{preset: work-hours, minNodes: 0, maxNodes: 20, timeZone: Europe/Amsterdam}",
         "{preset: queue-pending, minNodes: 0, maxNodes: 32}")

    result = infra_diff(cost_stack.parents[1], "cost")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # 20 x $1.353 = $27.06, 32 x $1.353 = $43.296; 20 and 32 x 32 vCPUs; cpu adds 40 x $0.768 = $30.72, 640 vCPUs
    assert lines[1:5] == [
        "the change (stacks/Pulumi.cost.yaml):",
        "  render: preset work-hours → queue-pending, maxNodes 20 → 32, max $27.06/h → $43.30/h, vCPUs 640 → 1,024",
        "  all pools at max: $57.78/h → $74.02/h, vCPUs 1,280 → 1,664",
        "  prices: USD, test sheet, as of 2026-12-01"]
    # then the generated change: the same pool's formula, updated in place
    assert lines[5] == "0 to replace, 0 to delete, 0 to create, 1 to update"
    assert "~   update   batch:Pool pool-render-pool (render)" in lines


def test_a_price_change_shows_though_no_resource_changes_and_folds_for_a_comment(cost_stack):
    edit(cost_stack, "dedicatedPerHour: 0.768, spotPerHour: 0.154, source: test sheet, asOf: 2026-12-01",
         "dedicatedPerHour: 0.9, spotPerHour: 0.154, source: test sheet, asOf: 2026-12-05")

    result = infra_diff(cost_stack.parents[1], "cost", fmt="github")

    assert result.exit_code == 0, result.output
    out = result.stdout
    # 40 x 0.768 = 30.72 -> 40 x 0.9 = 36.00
    assert ("- **cpu**: dedicated price $0.768/h → $0.90/h, prices from USD, test sheet, as of 2026-12-01 → "
            "USD, test sheet, as of 2026-12-05, max $30.72/h → $36.00/h") in out
    assert "- **all pools at max**: $57.78/h → $63.06/h\n" in out  # the vCPUs did not change
    assert "<sub>prices: USD, test sheet, as of 2026-12-05 — check them before approving on cost</sub>" in out
    assert out.endswith("**no resource changes** — the stack declares the same resources and properties.\n")


def test_a_resized_pool_is_simulated_before_and_after_on_the_same_arrivals(cost_stack):
    edit(cost_stack, "{preset: queue-pending, minNodes: 1, maxNodes: 40, evaluationInterval: PT5M}",
         "{preset: queue-pending, minNodes: 1, maxNodes: 2, evaluationInterval: PT5M}")
    checkout = cost_stack.parents[1]
    head = git(checkout, "rev-parse", "HEAD")[:8]

    result = CliRunner().invoke(cli, ["infra", "diff", "--stack", "cost", "--base", "HEAD", "--project-dir",
                                      str(checkout), "--arrivals", "steady:rate=120/h,duration=PT30M,for=PT2H"],
                                catch_exceptions=False)

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "simulated before and after on steady:rate=120/h,duration=PT30M,for=PT2H: cpu:" in out
    assert f"  [1] cpu at HEAD ({head})" in out and "  [2] cpu in the working tree" in out
    assert "same draws and billed span for both" in out
    # 40 nodes keep up with 60 running tasks at a time; 2 nodes leave a queue: the waits differ
    wait = next(line for line in out.splitlines() if line.strip().startswith("wait max"))
    before, after = wait.split()[2:4], wait.split()[8:10]
    assert before != after, wait


def test_a_bad_trace_is_refused_before_any_planning(checkout):
    result = CliRunner().invoke(cli, ["infra", "diff", "--stack", "review", "--base", "HEAD", "--project-dir",
                                      str(checkout), "--arrivals", "sometimes"], catch_exceptions=False)
    assert result.exit_code == 2 and "infra diff" not in result.output
    assert "sometimes" in result.stderr
