"""Azure's rules for stacks the schema accepts (bigcompute/config/azure_rules.py): each refusal is located at
its field and cites the page the rule comes from; the stacks Azure accepts still load."""

from __future__ import annotations

from pathlib import Path

import pytest

from bigcompute.config import load_stack
from bigcompute.document.diagnostics import render_path
from bigcompute.vm_sizes import vcpus

ROOT = Path(__file__).resolve().parents[2]
SIZE = "      vmSize: {size}\n      image: ubuntu-hpc-22.04\n      taskSlotsPerNode: {slots}\n      scale: {{fixed: {{}}}}\n"


def _only(diagnostics, code: str):
    [d] = diagnostics
    assert d.code == code, d
    return d


def _where(d) -> tuple[int, str]:
    return d.line, render_path(d.path)


@pytest.mark.parametrize("sku", ["Premium_LRS", "Premium_ZRS"])
def test_premium_storage_is_refused_with_both_sources(refusals, sku):
    d = _only(refusals(extra=f"  bigcompute:storage: {{sku: {sku}}}\n"), "azure-storage-sku")
    assert _where(d) == (4, "$.config.bigcompute:storage.sku")
    assert "BlockBlobStorage" in d.message and "https://learn.microsoft.com/azure/batch/accounts" in d.message
    assert "storage-account-overview" in d.message


def test_standard_storage_loads(load):
    assert load(extra="  bigcompute:storage: {sku: Standard_GZRS}\n").storage.sku == "Standard_GZRS"


@pytest.mark.parametrize(("size", "slots", "limit"), [
    ("Standard_D2s_v5", 64, 8),     # the case: 64 slots on a 2-vCPU size
    ("Standard_D2s_v5", 9, 8),
    ("Standard_F4s_v2", 17, 16),
    ("Standard_NC6s_v3", 25, 24),
])
def test_task_slots_over_four_per_vcpu_are_refused(refusals, size, slots, limit):
    d = _only(refusals(SIZE.format(size=size, slots=slots)), "azure-task-slots")
    assert _where(d) == (8, "$.config.bigcompute:pools[0].taskSlotsPerNode")
    assert f"= {limit} " in d.message and "batch-parallel-node-tasks" in d.message


@pytest.mark.parametrize(("size", "slots"), [
    ("Standard_D2s_v5", 8), ("standard_d2s_v5", 8),  # Azure compares sizes case-insensitively
    ("Standard_D96s_v5", 256),                         # 4 x 96 = 384, capped at 256
    ("Standard_HB120-16rs_v3", 64),                    # a constrained-core size counts its active vCPUs
])
def test_task_slots_at_the_limit_load(load, size, slots):
    assert load(SIZE.format(size=size, slots=slots)).pools[0].task_slots_per_node == slots


def test_an_unknown_size_is_refused_with_suggestions_and_where_to_add_it(refusals):
    d = _only(refusals(SIZE.format(size="Standard_D3s_v5", slots=1)), "azure-vm-size")
    assert _where(d) == (6, "$.config.bigcompute:pools[0].vmSize")
    assert "did you mean" in d.message and "Standard_D32s_v5" in d.message
    assert "bigcompute/vm_sizes.py" in d.message


@pytest.mark.parametrize("stack", sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml")
                                         for p in (ROOT / "stacks").glob("Pulumi.*.yaml")))
def test_every_shipped_size_is_known(stack):
    for pool in load_stack(stack, root=ROOT).pools:
        assert vcpus(pool.vm_size), pool.vm_size


CONTAINERS = "      containerImages: [ghcr.io/acme/render:1]\n"


@pytest.mark.parametrize("image", ["ubuntu-24.04", "debian-12", "windows-2022",
                                   "{publisher: canonical, offer: ubuntu-24_04-lts, sku: server, "
                                   "nodeAgentSku: batch.node.ubuntu 24.04}"])
def test_containers_on_an_image_without_runtime_are_refused(refusals, image):
    pool = f"      vmSize: Standard_D2s_v5\n      image: {image}\n      scale: {{fixed: {{}}}}\n" + CONTAINERS
    d = _only(refusals(pool), "azure-container-image")
    assert _where(d) == (9, "$.config.bigcompute:pools[0].containerImages")
    assert "batch-docker-container-workloads" in d.message and "ubuntu-hpc-22.04" in d.message


@pytest.mark.parametrize("image", ["ubuntu-hpc-22.04", "{publisher: microsoft-dsvm, offer: ubuntu-hpc, sku: '2204', "
                                                       "nodeAgentSku: batch.node.ubuntu 22.04}"])
def test_containers_on_an_image_with_runtime_load(load, image):
    pool = load(f"      vmSize: Standard_D2s_v5\n      image: {image}\n      scale: {{fixed: {{}}}}\n" + CONTAINERS).pools[0]
    assert pool.container_images == ("ghcr.io/acme/render:1",) and pool.image.has_container_runtime


AUTOSCALE = "      vmSize: Standard_D2s_v5\n      image: ubuntu-24.04\n{dealloc}      scale:\n        autoscale: {spec}\n"


def _deallocation_line(formula: str) -> str:
    return next(line for line in formula.splitlines() if "$NodeDeallocationOption" in line)


def test_prod_render_formula_requeues():
    # stacks/Pulumi.prod.yaml: the render pool says `nodeDeallocation: requeue` on a work-hours preset
    render = load_stack("prod", root=ROOT).pool("render")
    assert _deallocation_line(render.formula()) == "$NodeDeallocationOption = requeue;"


@pytest.mark.parametrize(("dealloc", "spec", "expected"), [
    ("      nodeDeallocation: terminate\n", "{preset: queue-pending}", "terminate"),
    ("", "{preset: queue-pending, deallocation: requeue}", "requeue"),
    ("      nodeDeallocation: requeue\n", "{preset: cpu, deallocation: requeue}", "requeue"),
    ("", "{preset: scale-to-zero}", "taskcompletion"),
])
def test_the_pool_option_reaches_the_preset_formula(load, dealloc, spec, expected):
    pool = load(AUTOSCALE.format(dealloc=dealloc, spec=spec)).pools[0]
    assert pool.node_deallocation_option == expected
    assert _deallocation_line(pool.formula()) == f"$NodeDeallocationOption = {expected};"


@pytest.mark.parametrize(("dealloc", "spec", "where"), [
    ("      nodeDeallocation: retaineddata\n", "{preset: queue-pending}", "$.config.bigcompute:pools[0].nodeDeallocation"),
    ("", "{preset: queue-pending, deallocation: retaineddata}",
     "$.config.bigcompute:pools[0].scale.autoscale.deallocation"),
])
def test_retaineddata_is_refused_as_removed_from_batch(refusals, dealloc, spec, where):
    # Batch API 2026-10-01 removed it (azure-batch 16.0.0 release notes): Batch would refuse the pool
    found = [d for d in refusals(AUTOSCALE.format(dealloc=dealloc, spec=spec))
             if "retaineddata is deprecated and removed from Batch API 2026-10-01" in d.message]
    assert [render_path(d.path) for d in found] == [where]
    assert "use taskcompletion" in found[0].message


def test_a_preset_option_contradicting_the_pool_is_refused(refusals):
    text = AUTOSCALE.format(dealloc="      nodeDeallocation: requeue\n",
                            spec="{preset: queue-pending, deallocation: taskcompletion}")
    d = _only(refusals(text), "azure-deallocation")
    assert render_path(d.path) == "$.config.bigcompute:pools[0].scale.autoscale.deallocation"
    assert "batch-automatic-scaling" in d.message


@pytest.mark.parametrize(("formula", "said"), [
    ("$TargetDedicatedNodes = 1;", "does not set"),
    ("$TargetDedicatedNodes = 1; $NodeDeallocationOption = taskcompletion;", "= taskcompletion"),
])
def test_a_raw_formula_that_ignores_the_pool_option_is_refused(refusals, formula, said):
    text = AUTOSCALE.format(dealloc="      nodeDeallocation: requeue\n", spec=f"{{formula: '{formula}'}}")
    d = _only(refusals(text), "azure-deallocation")
    assert _where(d) == (8, "$.config.bigcompute:pools[0].nodeDeallocation")
    assert said in d.message and "$NodeDeallocationOption = requeue;" in d.message


def test_a_raw_formula_setting_the_pool_option_loads(load):
    formula = "$TargetDedicatedNodes = 1; $NodeDeallocationOption = requeue;"
    text = AUTOSCALE.format(dealloc="      nodeDeallocation: requeue\n", spec=f"{{formula: '{formula}'}}")
    assert load(text).pools[0].formula() == formula


HPC = "      vmSize: Standard_D2s_v5\n      image: {image}\n      scale: {{fixed: {{}}}}\n"
REGISTRY_ID = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/{name}"


def _registries(server: str = "acmeimages.azurecr.io", name: str = "acmeimages") -> str:
    return f"      containerRegistries: [{{server: {server}, resourceId: {REGISTRY_ID.format(name=name)}}}]\n"


def test_a_registry_and_its_images_load(load):
    pool = load(HPC.format(image="ubuntu-hpc-22.04") + "      containerImages: [acmeimages.azurecr.io/render:1]\n"
                + _registries(name="AcmeImages")).pools[0]
    [registry] = pool.container_registries
    assert registry.server == "acmeimages.azurecr.io" and registry.resource_id.endswith("/registries/AcmeImages")


def test_an_acr_image_without_its_registry_is_refused(refusals):
    pool = HPC.format(image="ubuntu-hpc-22.04") + "      containerImages: [ghcr.io/a/b:1, acmeimages.azurecr.io/render:1]\n"
    d = _only(refusals(pool), "azure-container-registry")
    assert _where(d) == (9, "$.config.bigcompute:pools[0].containerImages[1]")
    assert "anonymous-pull-access" in d.message and "containerRegistries" in d.message


def test_a_server_that_is_not_the_resource_ids_registry_is_refused(refusals):
    d = _only(refusals(HPC.format(image="ubuntu-hpc-22.04") + _registries(name="otherimages")),
              "azure-container-registry")
    assert _where(d) == (9, "$.config.bigcompute:pools[0].containerRegistries[0].server")
    assert "otherimages.azurecr.io" in d.message and "container-registry-get-started-portal" in d.message


def test_registries_on_an_image_without_runtime_are_refused(refusals):
    d = _only(refusals(HPC.format(image="ubuntu-24.04") + _registries()), "azure-container-image")
    assert _where(d) == (9, "$.config.bigcompute:pools[0].containerRegistries")


@pytest.mark.parametrize("registry", ["{server: acmeimages.azurecr.io}",
                                      "{server: acme.example.com, resourceId: /subscriptions/0/x}",
                                      "{server: acmeimages.azurecr.io, resourceId: r, password: hunter2}"])
def test_a_registry_needs_an_acr_server_and_resource_id_and_takes_no_password(refusals, registry):
    diagnostics = refusals(HPC.format(image="ubuntu-hpc-22.04") + f"      containerRegistries: [{registry}]\n")
    assert diagnostics and all(d.path[:4] == ("config", "bigcompute:pools", 0, "containerRegistries")
                               for d in diagnostics), diagnostics


GPU = "      vmSize: {size}\n      image: {image}\n      scale: {{fixed: {{}}}}\n"


@pytest.mark.parametrize("image", ["ubuntu-24.04", "windows-2022", "{publisher: canonical, offer: ubuntu-24_04-lts, "
                                   "sku: server, version: latest, nodeAgentSku: batch.node.ubuntu 24.04}"])
def test_a_gpu_size_on_an_image_without_drivers_is_refused(refusals, image):
    d = _only(refusals(GPU.format(size="Standard_NC6s_v3", image=image)), "azure-gpu-image")
    assert "has GPUs" in d.message and "batch-pool-compute-intensive-sizes" in d.message
    assert "ubuntu-hpc-22.04-gpu" in d.message and "windows-2022-gpu" in d.message


@pytest.mark.parametrize(("image", "windows"), [("ubuntu-hpc-22.04-gpu", False), ("windows-2022-gpu", True),
                                                ("ubuntu-hpc-22.04", False)])
def test_gpu_sizes_load_on_images_with_drivers(load, image, windows):
    [pool] = load(GPU.format(size="Standard_NC6s_v3", image=image)).pools
    assert pool.image.has_gpu_drivers and pool.image.is_windows == windows


def test_a_cpu_size_needs_no_drivers(load):
    assert load(GPU.format(size="Standard_D2s_v5", image="ubuntu-24.04")).pools[0].vm_size == "Standard_D2s_v5"
