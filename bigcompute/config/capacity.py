"""What a pool can grow to and cost, in the terms a reviewer reads: its scaling (preset, min/max nodes, the
metrics its formula reads), its vCPUs and its price per hour at that size.

The figures are ceilings: an autoscale pool at maxNodes with every node dedicated (a preset's spot share
falls back to dedicated nodes when spot capacity is short), a fixed pool at its counts. vCPUs come from
vm_sizes.VCPUS; prices from the pool's `pricing` (None without it: no cost line is invented).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bigcompute.config.model import AutoScale, FixedScale, PoolConfig, Pricing
from bigcompute.vm_sizes import vcpus


@dataclass(frozen=True)
class Capacity:
    pool: str
    vm_size: str
    vcpus_per_node: int | None
    scale: str  # "preset NAME", "formula" or "fixed"
    params: Mapping[str, Any]  # a preset's parameters as the stack gives them; fixed: dedicated/spot
    min_nodes: int | None
    max_nodes: int | None  # None: a raw formula states no ceiling bigcompute can read
    max_spot: int  # of max_nodes: spot nodes (fixed pools only; autoscale ceilings count all as dedicated)
    metrics: tuple[str, ...]  # the sampled metrics the formula reads ($PendingTasks, ...)
    interval: str | None  # the evaluation interval, ISO 8601 (autoscale only)
    task_slots: int
    pricing: Pricing | None

    @property
    def max_vcpus(self) -> int | None:
        if self.max_nodes is None or self.vcpus_per_node is None:
            return None
        return self.max_nodes * self.vcpus_per_node

    @property
    def max_per_hour(self) -> float | None:
        """What the pool costs per hour at its largest, or None without prices or a known ceiling."""
        if self.max_nodes is None or self.pricing is None:
            return None
        dedicated = self.max_nodes - self.max_spot
        return dedicated * self.pricing.dedicated_per_hour + self.max_spot * self.pricing.spot_per_hour

    @property
    def currency(self) -> str:
        return self.pricing.currency if self.pricing else "USD"

    def scaling_text(self) -> str:
        """`preset queue-pending, 1-40 nodes on $PendingTasks, every PT5M`, `fixed 4 dedicated + 2 spot`."""
        if self.scale == "fixed":
            spot = f" + {self.max_spot} spot" if self.max_spot else ""
            return f"fixed {self.max_nodes - self.max_spot} dedicated{spot}"  # type: ignore[operator]
        size = f"{self.min_nodes}-{self.max_nodes} nodes" if self.max_nodes is not None else "no stated maximum"
        return f"{self.scale}, {size} on {metrics_text(self.metrics)}, every {self.interval}"

    def ceiling_text(self) -> str:
        """`at most 40 nodes, 640 vCPUs, $30.72/h` with what is unknown said so."""
        if self.max_nodes is None:
            return "maximum unknown (a raw formula: bigcompute cannot read its ceiling)"
        cores = f"{self.max_vcpus:,} vCPUs" if self.max_vcpus is not None else \
            f"vCPUs unknown ({self.vm_size} is not in bigcompute/vm_sizes.py)"
        cost = money(self.max_per_hour, self.currency) + "/h" if self.max_per_hour is not None else "no pricing"
        return f"at most {plural(self.max_nodes, 'node')}, {cores}, {cost}"


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def metrics_text(metrics: tuple[str, ...]) -> str:
    return ", ".join(metrics) if metrics else "no metric (time of day only)"


def money(amount: float | None, currency: str, digits: int = 2) -> str:
    """`$27.06` for dollars, `27.06 EUR` otherwise; '-' when unknown."""
    if amount is None:
        return "-"
    if 0 < amount < 0.5 * 10 ** -digits:  # rounds to zero, yet costs something
        return "< " + money(10 ** -digits, currency, digits)
    return f"${amount:,.{digits}f}" if currency == "USD" else f"{amount:,.{digits}f} {currency}"


def unit_price(amount: float, currency: str) -> str:
    """A per-node price as price lists give it: `$0.768`, `$0.90` (2 to 4 decimals)."""
    decimals = len(f"{amount:.4f}".rstrip("0").split(".")[1])
    return money(amount, currency, max(2, decimals))


def pool_capacity(pool: PoolConfig) -> Capacity:
    """The pool's ceiling. Raises presets.PresetError for a preset whose parameters the loader would refuse."""
    common = {"pool": pool.name, "vm_size": pool.vm_size, "vcpus_per_node": vcpus(pool.vm_size),
              "task_slots": pool.task_slots_per_node, "pricing": pool.pricing}
    if isinstance(pool.scale, FixedScale):
        total = pool.scale.dedicated + pool.scale.spot
        return Capacity(scale="fixed", params={"dedicated": pool.scale.dedicated, "spot": pool.scale.spot},
                        min_nodes=total, max_nodes=total, max_spot=pool.scale.spot, metrics=(), interval=None,
                        **common)
    return _autoscale(pool, pool.scale, common)


def _autoscale(pool: PoolConfig, scale: AutoScale, common: dict[str, Any]) -> Capacity:
    from bigcompute.autoscale import parse, presets
    from bigcompute.autoscale.durations import format_duration

    minimum = maximum = None
    if scale.preset is not None:
        complete = presets.PRESETS[scale.preset].validate(
            {"deallocation": pool.node_deallocation_option, **scale.params})
        minimum, maximum = complete["minNodes"], complete["maxNodes"]
    text = pool.formula() or ""
    sampled = sorted(m for m in parse(text, pool.name).metrics if m != "$TaskSlotsPerNode")
    return Capacity(scale=f"preset {scale.preset}" if scale.preset else "formula", params=dict(scale.params),
                    min_nodes=minimum, max_nodes=maximum, max_spot=0, metrics=tuple(sampled),
                    interval=format_duration(scale.evaluation_interval), **common)
