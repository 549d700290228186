"""Component details the two stacks do not reach: the runner's roles, packages, containers, pure helpers."""

from __future__ import annotations

import shlex
import subprocess
from datetime import timedelta

import pytest

from bigcompute.config import IMAGE_ALIASES, AutoScale, FixedScale, PoolConfig, StartTask
from bigcompute.infra.plan import build_plan
from bigcompute.infra.review import review
from components import naming, pool_spec

RUNNER = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
RICH_POOL = """\
    - name: render
      vmSize: Standard_F4s_v2
      image: ubuntu-hpc-22.04
      taskSlotsPerNode: 2
      scheduling: pack
      scale:
        fixed: {dedicated: 2, spot: 3}
      nodeDeallocation: requeue
      startTask:
        aptPackages: [ffmpeg]
        pipPackages: ["numpy>=2"]
        command: echo ready
        elevated: true
      applications: [{id: blender, version: "4.1"}, {id: tools}]
      containerImages: [ghcr.io/acme/render:1]
      metadata: {team: vfx, costCenter: "42"}
"""


def _pool(**kw) -> PoolConfig:
    base = {"name": "p", "vm_size": "Standard_D2s_v5", "image": IMAGE_ALIASES["ubuntu-24.04"], "scale": FixedScale(1)}
    return PoolConfig(**{**base, **kw})


def test_runner_access_and_a_fully_specified_pool(project, stack_text):
    plan = build_plan("test", project(stack_text(pools=RICH_POOL, extra=f"bigcompute:batch: {{runnerPrincipalId: {RUNNER}}}\n")))
    graph = plan.graph
    assert plan.violations == []
    runner = graph.by_urn()[next(n.parent for n in graph.resources() if n.name == "runner-inputs-contributor")]
    assert runner.type == "bigcompute:identity:RunnerAccess"
    containers = {n.name.removeprefix("storage-"): n.id for n in graph.resources("azure-native:storage:BlobContainer")}
    account = graph.resources("azure-native:batch:BatchAccount")[0]
    grants = {(r.inputs["scope"], r.inputs["roleDefinitionId"].rsplit("/", 1)[1])
              for r in graph.resources("azure-native:authorization:RoleAssignment") if r.inputs["principalId"] == RUNNER}
    assert grants == {
        (containers["inputs"], "ba92f5b4-2d11-453d-a403-e96b0029c9fe"),   # Storage Blob Data Contributor
        # Contributor: the runner writes each job's manifest into outputs (runner/download.py write_manifest)
        (containers["outputs"], "ba92f5b4-2d11-453d-a403-e96b0029c9fe"),  # Storage Blob Data Contributor
        (account.id, "6aaa78f1-f7de-44ca-8722-c64a23943cae"),            # Azure Batch Data Contributor
    }

    pool = graph.resources("azure-native:batch:Pool")[0].inputs
    assert pool["scaleSettings"]["fixedScale"] == {"targetDedicatedNodes": 2, "targetLowPriorityNodes": 3,
                                                   "nodeDeallocationOption": "Requeue", "resizeTimeout": "PT15M"}
    assert pool["taskSchedulingPolicy"] == {"nodeFillType": "Pack"}
    assert pool["applicationPackages"] == [
        {"id": f"{account.id}/applications/blender", "version": "4.1"}, {"id": f"{account.id}/applications/tools"}]
    vm = pool["deploymentConfiguration"]["virtualMachineConfiguration"]
    assert vm["containerConfiguration"] == {"type": "DockerCompatible", "containerImageNames": ["ghcr.io/acme/render:1"]}
    assert pool["metadata"] == [{"name": "costCenter", "value": "42"}, {"name": "team", "value": "vfx"}]
    assert pool["startTask"]["waitForSuccess"] is True
    command = pool["startTask"]["commandLine"]  # what the provider sends: waits for boot, venv, upgrade
    for part in ("cloud-init status --wait", "DPkg::Lock::Timeout=600", "python3-venv",
                 "/opt/bigcompute/venv/bin/python -m pip install", "--upgrade", "bigcompute-venv.pth"):
        assert part in command


def _script(start: StartTask) -> list[str]:
    program, flag, script = shlex.split(pool_spec.start_command(_pool(start_task=start), start))
    assert (program, flag) == ("/bin/bash", "-c")
    subprocess.run(["bash", "-n", "-c", script], check=True)  # the node's shell must be able to parse it
    return script.split("; ")


PRIVATE_NET = "bigcompute:network: {addressSpace: 10.40.0.0/16, subnetPrefix: 10.40.0.0/20, publicIps: none}\n"


@pytest.mark.parametrize(("batch", "account_access", "groups", "shown"), [
    # self-hosted runner in the VNet: both endpoints private, one DNS zone, the public ones deny everyone
    ("{runnerAccess: {mode: privateEndpoint}}", {"defaultAction": "Deny"}, ["batchAccount", "nodeManagement"], "Deny"),
    ("{publicNetworkAccess: false, runnerAccess: {mode: privateEndpoint}}", None, ["batchAccount", "nodeManagement"],
     None),
    ("{runnerAccess: {mode: allowList, ips: [198.51.100.7]}}",
     {"defaultAction": "Deny", "ipRules": [{"action": "Allow", "value": "198.51.100.7"}]}, ["nodeManagement"],
     "Deny except 198.51.100.7"),
    ("{runnerAccess: {mode: open}}", None, ["nodeManagement"], "any network"),
])
def test_runner_network_path(project, stack_text, batch, account_access, groups, shown):
    plan = build_plan("test", project(stack_text(extra=f"bigcompute:batch: {batch}\n" + PRIVATE_NET)))
    graph = plan.graph
    assert plan.violations == []
    node = graph.resources("azure-native:batch:BatchAccount")[0]
    assert dict(review(node)).get("account endpoint") == shown  # what `infra plan` and `infra diff` show
    account = node.inputs
    profile = account.get("networkProfile")
    if account["publicNetworkAccess"] == "Disabled":
        assert profile is None  # Azure ignores IP rules of a disabled endpoint
    else:
        assert profile.get("accountAccess") == account_access
        assert profile["nodeManagementAccess"] == {"defaultAction": "Deny"}
    endpoints = graph.resources("azure-native:network:PrivateEndpoint")
    assert sorted(e.inputs["privateLinkServiceConnections"][0]["groupIds"][0] for e in endpoints) == groups
    [zone] = graph.resources("azure-native:privatedns:PrivateZone")
    assert zone.inputs["privateZoneName"] == "privatelink.batch.azure.com"
    zone_groups = graph.resources("azure-native:network:PrivateDnsZoneGroup")
    assert sorted(g.inputs["privateEndpointName"] for g in zone_groups) == sorted(e.outputs["name"] for e in endpoints)
    assert {c["privateDnsZoneId"] for g in zone_groups for c in g.inputs["privateDnsZoneConfigs"]} == {zone.id}


def test_start_command_installs_then_runs():
    start = StartTask(command="echo ready", apt_packages=("ffmpeg",), pip_packages=("numpy>=2",), elevated=True)
    steps = _script(start)
    assert steps[0] == "set -euo pipefail"
    # Ubuntu ships neither pip nor ensurepip: python3-venv brings both into the venv
    assert "install -y --no-install-recommends ffmpeg python3-venv" in steps[steps.index("done") + 1]
    assert "python3 -m venv --system-site-packages /opt/bigcompute/venv" in steps
    # a venv (PEP 668 refuses system installs on 24.04); --upgrade so a version bump reaches rebooted nodes
    assert ("/opt/bigcompute/venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade 'numpy>=2'"
            in steps)
    # tasks import it through a .pth in the system site directory, written after the install
    pth = next(i for i, s in enumerate(steps) if s.endswith('> "$site_dir/bigcompute-venv.pth"'))
    assert steps[pth].startswith("/opt/bigcompute/venv/bin/python -c 'print(__import__(\"sysconfig\")")
    assert steps[-1] == "echo ready"


def test_pip_packages_alone_still_install_a_python_with_venv():
    steps = _script(StartTask(pip_packages=("requests",), elevated=True))
    assert any(s.endswith("install -y --no-install-recommends python3-venv") for s in steps)


def test_pip_packages_need_elevation():
    with pytest.raises(pool_spec.PoolSpecError) as raised:
        pool_spec.pool_settings(_pool(start_task=StartTask(pip_packages=("numpy",))))
    assert raised.value.field == ("startTask", "pipPackages")
    assert "elevated" in raised.value.message


def test_apt_waits_for_cloud_init_and_retries_update_on_a_held_lock(tmp_path):
    """Run the apt steps against fakes: cloud-init is waited for, a locked `update` is retried."""
    bin_dir, log = tmp_path / "bin", tmp_path / "log"
    bin_dir.mkdir()
    fakes = {
        "cloud-init": f'echo "cloud-init $*" >> {log}',
        "sleep": f'echo "sleep $*" >> {log}',
        # the first two updates find the lists lock held, as on a fresh node running apt-daily
        "apt-get": f'echo "apt-get $*" >> {log}; n=$(grep -c " update" {log}); '
                   'case "$*" in *update*) [ "$n" -gt 2 ] || { echo "E: Could not get lock" >&2; exit 100; };; esac',
    }
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    steps = _script(StartTask(apt_packages=("ffmpeg",), elevated=True))
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    subprocess.run(["bash", "-c", "; ".join(steps)], check=True, env=env, capture_output=True)
    calls = log.read_text().splitlines()
    assert calls[0] == "cloud-init status --wait"
    assert [c for c in calls if c.startswith("sleep")] == ["sleep 30", "sleep 30"]
    assert all("-o DPkg::Lock::Timeout=600" in c for c in calls if c.startswith("apt-get"))
    assert calls[-1].endswith("install -y --no-install-recommends ffmpeg")


def test_apt_update_gives_up_after_five_tries(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in {"apt-get": "exit 100", "sleep": "true"}.items():
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    steps = _script(StartTask(apt_packages=("ffmpeg",), elevated=True))
    done = subprocess.run(["bash", "-c", "; ".join(steps)], env={"PATH": f"{bin_dir}:/usr/bin:/bin"})
    assert done.returncode == 1


def test_start_task_is_not_elevated_unless_asked():
    task = pool_spec.start_task(_pool(start_task=StartTask(command="true")))
    assert task["user_identity"] == {"auto_user": {"scope": "Pool", "elevation_level": "NonAdmin"}}
    assert pool_spec.start_task(_pool()) is None


def test_windows_pools_take_commands_but_not_packages():
    windows = IMAGE_ALIASES["windows-2022"]
    assert pool_spec.start_command(_pool(image=windows), StartTask(command="echo hi")) == "cmd /c echo hi"
    with pytest.raises(pool_spec.PoolSpecError) as raised:
        pool_spec.pool_settings(_pool(image=windows, start_task=StartTask(pip_packages=("numpy",))))
    assert raised.value.field == ("startTask", "pipPackages")


def test_autoscale_settings_and_broken_formula():
    good = _pool(scale=AutoScale(formula="$TargetDedicatedNodes = 1;", evaluation_interval=timedelta(minutes=5)))
    assert pool_spec.scale_settings(good) == {"auto_scale": {"formula": "$TargetDedicatedNodes = 1;",
                                                             "evaluation_interval": "PT5M"}}
    broken = _pool(scale=AutoScale(formula="$TargetDedicatedNodes = 1;\n$TargetDedicatedNodes = ;"))
    with pytest.raises(pool_spec.PoolSpecError) as raised:
        pool_spec.pool_settings(broken)
    assert raised.value.field == ("scale", "autoscale", "formula")
    assert "line 2, column" in raised.value.message


def test_network_configuration():
    assert pool_spec.network_configuration("subnet-id", public_ips=False) == {
        "subnet_id": "subnet-id", "public_ip_address_configuration": {"provision": "NoPublicIPAddresses"}}
    assert pool_spec.network_configuration("s", public_ips=True)["public_ip_address_configuration"] == {
        "provision": "BatchManaged"}


@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(minutes=5), "PT5M"), (timedelta(hours=1, minutes=30), "PT1H30M"), (timedelta(days=7), "P7D"),
    (timedelta(days=1, seconds=5), "P1DT5S"), (timedelta(0), "PT0S"),
])
def test_iso_duration(delta, text):
    assert naming.iso_duration(delta) == text


def test_unique_names_fit_azure_rules():
    name = naming.unique_name("bc", "abcdefghijkl", "/subscriptions/x/resourceGroups/rg", "st")
    assert len(name) <= 24 and name.isalnum() and name.islower()
    assert name == naming.unique_name("bc", "abcdefghijkl", "/subscriptions/x/resourceGroups/rg", "st")
    assert name != naming.unique_name("bc", "abcdefghijkl", "/subscriptions/y/resourceGroups/rg", "st")
    assert naming.stack_tags("dev", {"environment": "x", "owner": "me"}) == {
        "environment": "dev", "managed-by": "bigcompute", "owner": "me"}


ACR = "/subscriptions/{sub}/resourceGroups/rg-images/providers/Microsoft.ContainerRegistry/registries/{name}"
ACR_POOLS = """\
    - name: render
      vmSize: Standard_F4s_v2
      image: ubuntu-hpc-22.04
      scale: {{fixed: {{dedicated: 1}}}}
      containerImages: [acmeimages.azurecr.io/render:1, ghcr.io/acme/tools:2]
      containerRegistries: [{{server: acmeimages.azurecr.io, resourceId: "{acme}"}}]
    - name: cpu
      vmSize: Standard_D2s_v5
      image: ubuntu-hpc-22.04
      scale: {{fixed: {{dedicated: 1}}}}
      containerRegistries:
        - {{server: acmeimages.azurecr.io, resourceId: "{acme_upper}"}}
        - {{server: sharedbase.azurecr.io, resourceId: "{shared}"}}
"""


def test_pools_pull_from_acr_as_the_pool_identity_which_gets_acr_pull(project, stack_text):
    """Pools name their registries with the pool identity (no password); that identity gets AcrPull on
    each registry once, however many pools use it, and pools wait for those grants like the others."""
    acme, shared = ACR.format(sub="1" * 8, name="acmeimages"), ACR.format(sub="1" * 8, name="sharedbase")
    pools = ACR_POOLS.format(acme=acme, acme_upper=acme.replace("acmeimages", "AcmeImages"), shared=shared)
    plan = build_plan("test", project(stack_text(pools=pools)))
    assert plan.violations == []
    graph = plan.graph
    identity = graph.resources("azure-native:managedidentity:UserAssignedIdentity")
    [pool_identity] = [n for n in identity if n.name == "identity-uai"]
    pulls = [r for r in graph.resources("azure-native:authorization:RoleAssignment")
             if r.inputs["roleDefinitionId"].endswith("/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d")]
    assert sorted(r.inputs["scope"].lower() for r in pulls) == sorted([acme.lower(), shared.lower()])
    assert {r.inputs["principalId"] for r in pulls} == {pool_identity.outputs["principalId"]}
    assert {dict(review(r))["role"] for r in pulls} == {"AcrPull"}  # what `infra plan` shows a reviewer
    by_name = {p.inputs["poolName"]: p for p in graph.resources("azure-native:batch:Pool")}
    for pool in by_name.values():
        assert {r.urn for r in pulls} <= set(pool.dependencies)
    render = by_name["render"].inputs["deploymentConfiguration"]["virtualMachineConfiguration"]
    assert render["containerConfiguration"] == {
        "type": "DockerCompatible", "containerImageNames": ["acmeimages.azurecr.io/render:1", "ghcr.io/acme/tools:2"],
        "containerRegistries": [{"registryServer": "acmeimages.azurecr.io",
                                 "identityReference": {"resourceId": pool_identity.id}}]}
    cpu = by_name["cpu"].inputs["deploymentConfiguration"]["virtualMachineConfiguration"]["containerConfiguration"]
    assert cpu["containerImageNames"] == []  # registries alone enable the runtime; tasks pull their image
    assert [r["registryServer"] for r in cpu["containerRegistries"]] == ["acmeimages.azurecr.io", "sharedbase.azurecr.io"]
