"""Pure translation of a stack pool into Batch pool properties; no resource is declared here.

Kept apart from the component so it can be checked for every pool before anything is declared,
and tested without the Pulumi runtime.
"""

from __future__ import annotations

import shlex
from functools import lru_cache
from typing import Any

from bigcompute import autoscale
from bigcompute.config import AutoScale, FixedScale, PoolConfig, StartTask
from components.naming import iso_duration

# Pool properties Azure refuses to change on a live pool (PropertyCannotBeUpdated): a change to any of
# them replaces the pool. Scale settings, formulas, start task, packages, metadata, tags and the identity
# update in place, through Pool - Update (PATCH, components/pool_update.py: never azure-native's PUT).
# `identity` is updatable (Pool - Update, https://learn.microsoft.com/rest/api/batchmanagement/pool/update;
# BatchPoolIdentity: "if the pool identity is updated during update an existing pool, only the new vms
# which are created after the pool shrinks to 0 will have the updated identities"): replacing the pool
# instead would kill running tasks, and its nodes pick the new identity up once the pool scales to zero.
REPLACE_ON_CHANGES = (
    "vmSize",
    "deploymentConfiguration",  # image, node agent, container runtime
    "networkConfiguration",
    "taskSlotsPerNode",
    "taskSchedulingPolicy",
    "interNodeCommunication",
    "userAccounts",
    "mountConfiguration",
)

DEALLOCATION = {"requeue": "Requeue", "terminate": "Terminate", "taskcompletion": "TaskCompletion",
                "retaineddata": "RetainedData"}
APT = "apt-get -o DPkg::Lock::Timeout=600 -q"  # unattended-upgrades holds the lock on fresh nodes
# pipPackages go into this venv (created by the elevated start task); a .pth of this name puts it on
# the system python3's path so tasks import the packages with no environment of their own
VENV = "/opt/bigcompute/venv"
PTH = "bigcompute-venv.pth"


class PoolSpecError(ValueError):
    """A pool the stack file allows but Batch would reject; `field` is the path inside the pool."""

    def __init__(self, pool: str, field: tuple[str, ...], message: str) -> None:
        self.pool, self.field, self.message = pool, field, message
        super().__init__(f"pool '{pool}': {'.'.join(field)}: {message}")


def checked_formula(pool: PoolConfig) -> str | None:
    """The pool's formula, parsed first: a broken formula fails here with its line and column, not in Azure."""
    formula = pool.formula()
    if formula is None:
        return None
    errors = _formula_errors(formula)
    if errors:
        e = errors[0]
        field = ("scale", "autoscale", "formula" if pool.scale.formula is not None else "preset")
        raise PoolSpecError(pool.name, field, f"autoscale formula line {e.line}, column {e.column}: {e.message}")
    return formula


@lru_cache(maxsize=512)
def _formula_errors(formula: str) -> tuple:
    # a pure parse, memoized: every pool is checked up front and again when its component is declared
    return tuple(autoscale.check(formula, source="formula"))


def scale_settings(pool: PoolConfig) -> dict[str, Any]:
    scale = pool.scale
    if isinstance(scale, FixedScale):
        return {"fixed_scale": {
            "target_dedicated_nodes": scale.dedicated,
            "target_low_priority_nodes": scale.spot,
            "node_deallocation_option": DEALLOCATION[pool.node_deallocation_option],
            "resize_timeout": "PT15M",
        }}
    assert isinstance(scale, AutoScale)
    return {"auto_scale": {"formula": checked_formula(pool),
                           "evaluation_interval": iso_duration(scale.evaluation_interval)}}


def start_command(pool: PoolConfig, start: StartTask) -> str:
    if pool.image.is_windows:
        if start.apt_packages or start.pip_packages:
            field = "aptPackages" if start.apt_packages else "pipPackages"
            raise PoolSpecError(pool.name, ("startTask", field), "packages can only be installed on Linux images")
        return f"cmd /c {start.command}" if start.command else "cmd /c exit 0"
    if start.pip_packages and not start.elevated:
        raise PoolSpecError(pool.name, ("startTask", "pipPackages"),
                            f"pipPackages need 'elevated: true' (the start task creates {VENV} as root)")
    apt = list(start.apt_packages)
    if start.pip_packages and "python3-venv" not in apt:
        apt.append("python3-venv")  # Ubuntu's python3 has neither pip nor ensurepip without it
    steps = ["set -euo pipefail"]
    if apt:
        steps += apt_steps(apt)
    if start.pip_packages:
        steps += pip_steps(start.pip_packages)
    if start.command:
        steps.append(start.command)
    return "/bin/bash -c " + shlex.quote("; ".join(steps))


def apt_steps(packages: list[str]) -> list[str]:
    """Install Debian packages on a node that may still be booting.

    A fresh Ubuntu VM runs cloud-init and apt-daily/unattended-upgrades at first boot; both hold the apt
    locks. Wait for cloud-init where it exists, let dpkg wait for its lock (DPkg::Lock::Timeout), and retry
    `update`, whose lists lock and mirrors fail transiently.
    """
    return [
        "export DEBIAN_FRONTEND=noninteractive",
        "if command -v cloud-init >/dev/null; then cloud-init status --wait >/dev/null || true; fi",
        f"for try in 1 2 3 4 5; do {APT} update && break; [ $try -lt 5 ] || exit 1; sleep 30; done",
        f"{APT} install -y --no-install-recommends {' '.join(shlex.quote(p) for p in packages)}",
    ]


def pip_steps(packages: tuple[str, ...]) -> list[str]:
    """Install pip packages into a venv at a fixed path and make the system python3 import from it.

    Ubuntu 24.04 marks its python externally managed, so pip refuses system installs (PEP 668,
    https://peps.python.org/pep-0668/); hence a venv. Batch runs task command lines without a shell and does
    not expand `$VAR` in environment settings (https://learn.microsoft.com/azure/batch/batch-compute-node-environment-variables),
    and a pool has no environment for its tasks, so instead of PYTHONPATH a `.pth` file in the system
    site directory adds the venv's site-packages to every `python3` on the node, whoever runs it.
    `--upgrade`: the start task reruns on reboot and reimage, and a bumped version must reach those nodes.
    """
    python = f"{VENV}/bin/python"
    return [
        f"python3 -m venv --system-site-packages {VENV}",
        f"{python} -m pip install --quiet --disable-pip-version-check --upgrade "
        + " ".join(shlex.quote(p) for p in packages),
        "site_dir=\"$(python3 -c 'print(__import__(\"site\").getsitepackages()[0])')\"",
        'mkdir -p "$site_dir"',
        f"{python} -c 'print(__import__(\"sysconfig\").get_paths()[\"purelib\"])' > \"$site_dir/{PTH}\"",
    ]


def start_task(pool: PoolConfig) -> dict[str, Any] | None:
    start = pool.start_task
    if start is None:
        return None
    return {
        "command_line": start_command(pool, start),
        # admin only where the stack asks for it (apt needs root); tasks never inherit it
        "user_identity": {"auto_user": {"scope": "Pool", "elevation_level": "Admin" if start.elevated else "NonAdmin"}},
        "wait_for_success": start.wait_for_success,
        "max_task_retry_count": 2,
    }


def deployment_configuration(pool: PoolConfig) -> dict[str, Any]:
    image = pool.image
    vm: dict[str, Any] = {
        "image_reference": {"publisher": image.publisher, "offer": image.offer, "sku": image.sku,
                            "version": image.version},
        "node_agent_sku_id": image.node_agent_sku,
    }
    if pool.container_images or pool.container_registries:
        vm["container_configuration"] = {"type": "DockerCompatible",
                                         "container_image_names": list(pool.container_images)}
    return {"virtual_machine_configuration": vm}


def container_registries(pool: PoolConfig, identity_id: Any) -> list[dict[str, Any]]:
    """The pool's registries, each pulled from as the pool identity (ContainerRegistry.identityReference in
    Batch management 2024-07-01): no username or password in the pool, which Azure would return to readers."""
    return [{"registry_server": r.server, "identity_reference": {"resource_id": identity_id}}
            for r in pool.container_registries]


def pool_settings(pool: PoolConfig) -> dict[str, Any]:
    """Every property that depends on the pool alone (no other resource's output)."""
    settings: dict[str, Any] = {
        "pool_name": pool.name,
        "display_name": pool.name,
        "vm_size": pool.vm_size,
        "deployment_configuration": deployment_configuration(pool),
        "scale_settings": scale_settings(pool),
        "task_slots_per_node": pool.task_slots_per_node,
        "task_scheduling_policy": {"node_fill_type": "Pack" if pool.scheduling == "pack" else "Spread"},
        # simplified: nodes only call out to Batch; needed for pools without public IPs
        "target_node_communication_mode": "Simplified",
        "metadata": [{"name": k, "value": v} for k, v in sorted(pool.metadata.items())],
    }
    if pool.inter_node_communication:  # only when asked: a new input on an existing pool would replace it
        settings["inter_node_communication"] = "Enabled"
    task = start_task(pool)
    if task is not None:
        settings["start_task"] = task
    return settings


def network_configuration(subnet_id: Any, public_ips: bool) -> dict[str, Any]:
    provision = "BatchManaged" if public_ips else "NoPublicIPAddresses"
    return {"subnet_id": subnet_id, "public_ip_address_configuration": {"provision": provision}}
