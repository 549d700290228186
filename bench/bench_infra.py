"""`infra plan` benchmarks, each beside a floor measured in the same run:

- `bigcompute infra plan` (table) for a generated stack with 50 pools, in a fresh interpreter, vs importing
  the program's modules alone (azure-native packages included) in a fresh interpreter: the part no plan
  can avoid; target under 2 s;
- the same plan's peak RSS vs the imports' peak RSS.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from pathlib import Path

from bench.harness import Figure, run_child

NOTES = """\
The floor is importing the modules the program needs (pulumi, pulumi-azure-native's resource classes; each
azure-native package's `__init__` imports every resource module of the package, ~500 the program never uses);
under load it alone exceeds the 2 s target. Beyond it, the plan runs the program under Pulumi's mocks (the SDK's
own machinery per resource, without its per-resource stack walk) and renders the table; each autoscale formula is
parsed once per process. Replacing the SDK's packages with lighter ones at import time would cut the floor, but
would change how the real deployment imports its cloud SDK for an offline preview's second: not done.
"""

REPO = Path(__file__).resolve().parents[1]
POOLS = 50
RUNS = 3
TARGET_S = 2.0

# the program's modules, including the azure-native resource classes it declares: the SDK loads those
# lazily, on first attribute access, so the floor touches each one
IMPORTS = (
    "import components.platform, bigcompute.config, bigcompute.infra.plan, bigcompute.infra.render, "
    "bigcompute.cli.infra\n"
    "from pulumi_azure_native import (authorization, batch, managedidentity, monitor, network,\n"
    "    operationalinsights, privatedns, resources, storage)\n"
    "_ = (resources.ResourceGroup, storage.StorageAccount, storage.BlobContainer, storage.BlobServiceProperties,\n"
    "     storage.ManagementPolicy, managedidentity.UserAssignedIdentity, authorization.RoleAssignment,\n"
    "     batch.BatchAccount, batch.Pool, operationalinsights.Workspace, monitor.DiagnosticSetting,\n"
    "     network.VirtualNetwork, network.Subnet, network.NetworkSecurityGroup, network.NatGateway,\n"
    "     network.PublicIPAddress, network.PrivateEndpoint, network.PrivateDnsZoneGroup, privatedns.PrivateZone,\n"
    "     privatedns.VirtualNetworkLink)\n"
)
PLAN = (
    "import io, sys\n"
    "from pathlib import Path\n"
    "from rich.console import Console\n"
    "from bigcompute.cli.infra import PlanArgs, run_plan\n"
    "out, err = Console(file=io.StringIO(), width=200), Console(file=io.StringIO())\n"
    "code = run_plan(PlanArgs('bench', 'table', Path(sys.argv[1])), out, err)\n"
    "assert code == 0, err.file.getvalue()\n"
    "print(out.file.getvalue().count('batch:Pool '))\n"
)


def generated_stack(pools: int = POOLS) -> str:
    """Half fixed, half autoscale presets, private network, start tasks: the shape of a big real stack."""
    lines = [
        "config:",
        "  bigcompute:location: westeurope",
        "  bigcompute:environment: bench",
        "  bigcompute:allowSpot: true",
        "  bigcompute:batch: {publicNetworkAccess: false, authenticationModes: [AAD], runnerAccess: {mode: privateEndpoint}}",
        "  bigcompute:network: {addressSpace: 10.40.0.0/16, subnetPrefix: 10.40.0.0/20, publicIps: none}",
        "  bigcompute:pools:",
    ]
    presets = ("queue-pending", "queue-active-spot", "work-hours")
    for i in range(pools):
        scale = (f"{{fixed: {{dedicated: {i % 4}, spot: {i % 3}}}}}" if i % 2 == 0 else
                 f"{{autoscale: {{preset: {presets[i % 3]}, minNodes: 0, maxNodes: {10 + i}}}}}")
        lines += [
            f"    - name: pool{i:02d}",
            f"      vmSize: Standard_D{2 ** (i % 4 + 1)}s_v5",
            "      image: ubuntu-24.04",
            f"      taskSlotsPerNode: {i % 8 + 1}",
            f"      scale: {scale}",
            "      startTask: {aptPackages: [ffmpeg], pipPackages: [numpy], elevated: true}",
            f"      metadata: {{index: '{i}'}}",
        ]
    return "\n".join(lines) + "\n"


def _project(folder: Path) -> Path:
    shutil.copy(REPO / "__main__.py", folder / "__main__.py")
    shutil.copy(REPO / "Pulumi.yaml", folder / "Pulumi.yaml")
    (folder / "stacks").mkdir()
    (folder / "stacks" / "Pulumi.bench.yaml").write_text(generated_stack())
    return folder


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-infra-") as tmp:
        project = _project(Path(tmp))
        plans, imports = [], []
        for _ in range(RUNS):  # interleaved, so both see the same machine load
            imports.append(run_child(IMPORTS))
            plans.append(run_child(PLAN, str(project)))
        pools_shown = int(plans[0][2].strip())
    assert pools_shown == POOLS, f"the plan showed {pools_shown} pools, not {POOLS}"
    plan_s = statistics.median(p[0] for p in plans)
    import_s = statistics.median(i[0] for i in imports)
    plan_rss = max(p[1] for p in plans) / 2**20
    import_rss = max(i[1] for i in imports) / 2**20
    return [
        Figure(f"infra plan, {POOLS} pools (fresh process, median of {RUNS})", plan_s, "s", import_s,
               "importing the program's modules", f"< {TARGET_S:g} s", plan_s < TARGET_S),
        Figure(f"infra plan, {POOLS} pools, peak RSS", plan_rss, "MiB", import_rss, "importing the program's modules"),
    ]
