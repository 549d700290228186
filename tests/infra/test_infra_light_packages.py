"""components.azure: the program loads only the azure-native resource modules it declares, and each light
package still gives every name the real package exports. Each check runs in a fresh interpreter: this one may
have loaded the packages in full already (install() then leaves them as they are)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def fresh(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_plan_imports_the_declared_resource_modules_only():
    out = fresh(
        "import io, sys\n"
        "from rich.console import Console\n"
        "from bigcompute.cli.infra import PlanArgs, run_plan\n"
        "out, err = Console(file=io.StringIO(), width=200), Console(file=io.StringIO())\n"
        "assert run_plan(PlanArgs('prod', 'table', None), out, err) == 0, err.file.getvalue()\n"
        "assert 'batch:Pool ' in out.file.getvalue()\n"
        "network = sorted(m for m in sys.modules if m.startswith('pulumi_azure_native.network.'))\n"
        "print(len(network), 'pulumi_azure_native.network.admin_rule' in sys.modules, "
        "'pulumi_azure_native.network.virtual_network' in sys.modules)\n")
    count, unused, used = out.split()
    assert (unused, used) == ("False", "True")
    assert int(count) < 20  # the package has ~290 modules


def test_a_light_package_still_has_every_name():
    out = fresh(
        "import sys\n"
        "import components\n"
        "from pulumi_azure_native import authorization, network\n"
        "assert type(network).__name__ == 'LightPackage'\n"
        "vnet = network.VirtualNetwork\n"
        "assert 'pulumi_azure_native.network.admin_rule' not in sys.modules\n"
        "assert callable(authorization.get_client_config) and not isinstance(authorization.get_client_config, "
        "type(sys))\n"
        "assert network.outputs.__name__ == 'pulumi_azure_native.network.outputs'\n"
        "args = network.VirtualNetworkArgs\n"
        "enum = network.SecurityRuleAccess\n"  # an enum: no module of its name, so the real __init__ runs
        "assert 'pulumi_azure_native.network.admin_rule' in sys.modules\n"
        "assert network.VirtualNetwork is vnet and network.AdminRule.__module__.endswith('admin_rule')\n"
        "try:\n"
        "    network.NoSuchName\n"
        "except AttributeError as e:\n"
        "    print(e)\n")
    assert out == "module 'pulumi_azure_native.network' has no attribute 'NoSuchName'"
