"""vCPUs of the Azure VM sizes bigcompute knows: Batch's task-slot limit (config/azure_rules.py), quotas and costs,
and the local emulator's pool usage metrics (core hours). Shared by the config and the emulator, so it imports nothing.

Each family lists the sizes of its Azure page (learn.microsoft.com/azure/virtual-machines/sizes/...), where
the size's number is its vCPU count unless given explicitly. To support another size, add it to its
family here (or a new family with the page it comes from); a size missing from the table is refused.
"""

from __future__ import annotations

SIZES = "https://learn.microsoft.com/azure/virtual-machines/sizes/"


def _family(template: str, counts: tuple[int, ...]) -> dict[str, int]:
    """`Standard_D{}s_v5` with (2, 4) -> {'Standard_D2s_v5': 2, 'Standard_D4s_v5': 4}."""
    return {template.format(n): n for n in counts}


_D_V5 = (2, 4, 8, 16, 32, 48, 64, 96)
_D_V4 = (2, 4, 8, 16, 32, 48, 64)
_E_V5 = (2, 4, 8, 16, 20, 32, 48, 64, 96)
_E_V4 = (2, 4, 8, 16, 20, 32, 48, 64)

VCPUS: dict[str, int] = {
    # general purpose: {SIZES}general-purpose/dv5-series, dsv5-series, ddv5-series, ddsv5-series,
    # dasv5-series, dadsv5-series, dv4-series, dsv4-series, ddsv4-series, dv3-series, dsv3-series
    **_family("Standard_D{}_v5", _D_V5), **_family("Standard_D{}s_v5", _D_V5),
    **_family("Standard_D{}d_v5", _D_V5), **_family("Standard_D{}ds_v5", _D_V5),
    **_family("Standard_D{}as_v5", _D_V5), **_family("Standard_D{}ads_v5", _D_V5),
    **_family("Standard_D{}_v4", _D_V4), **_family("Standard_D{}s_v4", _D_V4),
    **_family("Standard_D{}ds_v4", _D_V4),
    **_family("Standard_D{}_v3", _D_V4), **_family("Standard_D{}s_v3", _D_V4),
    # memory optimized: {SIZES}memory-optimized/ev5-series, esv5-series, edsv5-series, ev4-series, esv4-series
    **_family("Standard_E{}_v5", _E_V5), **_family("Standard_E{}s_v5", _E_V5),
    **_family("Standard_E{}ds_v5", _E_V5),
    **_family("Standard_E{}_v4", _E_V4), **_family("Standard_E{}s_v4", _E_V4),
    # compute optimized: {SIZES}compute-optimized/fsv2-series
    **_family("Standard_F{}s_v2", (2, 4, 8, 16, 32, 48, 64, 72)),
    # GPU: {SIZES}gpu-accelerated/ncv3-series, ncast4v3-series, nca100v4-series, ndv2-series,
    # nda100v4-series, ndma100v4-series, ndh100v5-series
    **_family("Standard_NC{}s_v3", (6, 12, 24)), "Standard_NC24rs_v3": 24,
    **_family("Standard_NC{}as_T4_v3", (4, 8, 16, 64)),
    **_family("Standard_NC{}ads_A100_v4", (24, 48, 96)),
    "Standard_ND40rs_v2": 40, "Standard_ND96asr_v4": 96, "Standard_ND96amsr_A100_v4": 96,
    "Standard_ND96isr_H100_v5": 96,
    # HPC: {SIZES}high-performance-compute/hbv2-series, hbv3-series, hbv4-series, hc-series
    # (constrained-core sizes such as HB120-96rs_v3 run the second number of vCPUs)
    "Standard_HB120rs_v2": 120, "Standard_HB120rs_v3": 120, "Standard_HB120-96rs_v3": 96,
    "Standard_HB120-64rs_v3": 64, "Standard_HB120-32rs_v3": 32, "Standard_HB120-16rs_v3": 16,
    "Standard_HB176rs_v4": 176, "Standard_HB176-144rs_v4": 144, "Standard_HB176-96rs_v4": 96,
    "Standard_HB176-48rs_v4": 48, "Standard_HB176-24rs_v4": 24, "Standard_HC44rs": 44,
}


_BY_LOWER = {name.lower(): count for name, count in VCPUS.items()}


def vcpus(vm_size: str) -> int | None:
    """The size's vCPU count; None for a size missing from the table. Azure compares sizes case-insensitively."""
    return _BY_LOWER.get(vm_size.lower())
