"""The change an operator made to a stack's pools, in their own terms, before the generated resources:
`render: preset work-hours → queue-pending, maxNodes 20 → 32, max $27.06/h → $43.30/h, vCPUs 640 → 1,024`.

It compares the stack file's pools on both sides of `infra diff` (their VM size, scaling, preset parameters,
task slots, prices) and the ceilings config.capacity derives from them. A price change alters no resource,
so it shows here even when the resource graphs are identical.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bigcompute.config import StackConfig
from bigcompute.config.capacity import Capacity, money, pool_capacity, unit_price

ARROW = "→"


@dataclass(frozen=True)
class PoolChange:
    pool: str
    action: str  # add | remove | change
    fields: tuple[str, ...]  # what the operator changed, each already "field before → after"
    before: Capacity | None
    after: Capacity | None

    def line(self) -> str:
        if self.action == "add":
            assert self.after is not None
            return f"{self.pool}: new pool, {self.after.vm_size}, {self.after.scaling_text()}; " \
                   f"{self.after.ceiling_text()}"
        if self.action == "remove":
            assert self.before is not None
            return f"{self.pool}: pool removed (was {self.before.ceiling_text()})"
        return f"{self.pool}: {', '.join(self.fields)}"


@dataclass(frozen=True)
class OperatorSummary:
    pools: tuple[PoolChange, ...]
    totals: str | None  # the whole stack at max, when it changed and is known on both sides
    unavailable: str | None = None  # why there is no summary (a side's stack file does not load here)

    @property
    def empty(self) -> bool:
        return not self.pools and self.unavailable is None

    def lines(self) -> list[str]:
        if self.unavailable:
            return [f"summary unavailable: {self.unavailable}"]
        return [p.line() for p in self.pools] + ([self.totals] if self.totals else [])


def summarize(before: StackConfig | None, after: StackConfig | None, unavailable: str | None = None) -> OperatorSummary:
    """`None` for a side without the stack file (a stack being added or removed)."""
    if unavailable:
        return OperatorSummary((), None, unavailable)
    old = {p.name: pool_capacity(p) for p in before.pools} if before else {}
    new = {p.name: pool_capacity(p) for p in after.pools} if after else {}
    old_pools = {p.name: p for p in before.pools} if before else {}
    new_pools = {p.name: p for p in after.pools} if after else {}
    changes = []
    for name in [*new, *(n for n in old if n not in new)]:
        if name not in old:
            changes.append(PoolChange(name, "add", (), None, new[name]))
        elif name not in new:
            changes.append(PoolChange(name, "remove", (), old[name], None))
        else:
            fields = tuple(_fields(old[name], new[name], old_pools[name], new_pools[name]))
            if fields:
                changes.append(PoolChange(name, "change", fields, old[name], new[name]))
    # the whole stack's ceiling says more than the pool's line only with several pools on both sides
    several = old and new and max(len(old), len(new)) > 1
    return OperatorSummary(tuple(changes), _totals(old, new) if changes and several else None)


def _change(label: str, before: Any, after: Any) -> str:
    return f"{label} {before} {ARROW} {after}"


def _fields(was: Capacity, now: Capacity, old_pool: Any, new_pool: Any) -> Iterator[str]:
    if was.vm_size != now.vm_size:
        yield _change("vmSize", was.vm_size, now.vm_size)
    if was.scale != now.scale:
        both_presets = was.scale.startswith("preset ") and now.scale.startswith("preset ")
        yield _change("preset", was.scale[7:], now.scale[7:]) if both_presets else \
            _change("scale", was.scale, now.scale)
    yield from _params(was, now)
    if was.interval != now.interval and was.interval and now.interval:
        yield _change("evaluationInterval", was.interval, now.interval)
    if was.scale == now.scale == "formula" and old_pool.formula() != new_pool.formula():
        yield "formula changed (see below)"
    if was.task_slots != now.task_slots:
        yield _change("taskSlotsPerNode", was.task_slots, now.task_slots)
    if old_pool.node_deallocation_option != new_pool.node_deallocation_option:
        yield _change("nodeDeallocation", old_pool.node_deallocation_option, new_pool.node_deallocation_option)
    yield from _prices(was, now)
    if was.max_per_hour != now.max_per_hour:
        yield _change("max", _per_hour(was), _per_hour(now))
    if was.max_vcpus != now.max_vcpus:
        yield _change("vCPUs", _count(was.max_vcpus), _count(now.max_vcpus))


def _params(was: Capacity, now: Capacity) -> Iterator[str]:
    """The preset parameters (or fixed counts) the stack file sets on either side. A parameter of the old preset
    only is left out when the preset changed: the preset's own line says it."""
    old, new = was.params, now.params
    for key in [*new, *(k for k in old if k not in new)]:
        if key in old and key in new:
            if old[key] != new[key]:
                yield _change(key, _value(old[key]), _value(new[key]))
        elif key in new:
            yield _change(key, _default(was, key), _value(new[key])) if was.scale == now.scale else \
                f"{key} {_value(new[key])}"
        elif was.scale == now.scale:
            yield _change(key, _value(old[key]), _default(now, key))
    presets = was.scale.startswith("preset") and now.scale.startswith("preset")
    if presets and (was.scale != now.scale or old != new):
        for label, a, b in (("minNodes", was.min_nodes, now.min_nodes), ("maxNodes", was.max_nodes, now.max_nodes)):
            if a != b and label not in old.keys() | new.keys():  # a default that moved with the preset
                yield _change(label, _count(a), _count(b))


def _default(c: Capacity, key: str) -> str:
    return "default" if c.scale.startswith("preset") else "0"


def _prices(was: Capacity, now: Capacity) -> Iterator[str]:
    a, b = was.pricing, now.pricing
    if a == b:
        return
    if a is None or b is None:
        yield "pricing " + ("added" if a is None else "removed")
        return
    if (a.dedicated_per_hour, a.currency) != (b.dedicated_per_hour, b.currency):
        yield _change("dedicated price", unit_price(a.dedicated_per_hour, a.currency) + "/h",
                      unit_price(b.dedicated_per_hour, b.currency) + "/h")
    if (a.spot_per_hour, a.currency) != (b.spot_per_hour, b.currency):
        yield _change("spot price", unit_price(a.spot_per_hour, a.currency) + "/h",
                      unit_price(b.spot_per_hour, b.currency) + "/h")
    if (a.source, a.as_of) != (b.source, b.as_of):
        yield _change("prices from", a.provenance, b.provenance)


def _per_hour(c: Capacity) -> str:
    return f"{money(c.max_per_hour, c.currency)}/h" if c.max_per_hour is not None else "unknown"


def _count(n: int | None) -> str:
    return f"{n:,}" if n is not None else "unknown"


def _value(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def _totals(old: Mapping[str, Capacity], new: Mapping[str, Capacity]) -> str | None:
    """`stack at max: $57.78/h → $74.02/h, 1,280 → 1,664 vCPUs`, when every pool's ceiling is known."""
    def total(side: Mapping[str, Capacity]) -> tuple[float | None, int | None, set[str]]:
        costs = [c.max_per_hour for c in side.values()]
        cores = [c.max_vcpus for c in side.values()]
        return (None if None in costs else sum(costs),  # type: ignore[arg-type]
                None if None in cores else sum(cores),  # type: ignore[arg-type]
                {c.currency for c in side.values()})

    cost_a, cores_a, cur_a = total(old)
    cost_b, cores_b, cur_b = total(new)
    if (cost_a, cores_a) == (cost_b, cores_b) or len(cur_a | cur_b) > 1:
        return None
    currency = next(iter(cur_a | cur_b), "USD")
    show = lambda x: f"{money(x, currency)}/h" if x is not None else "unknown"  # noqa: E731
    parts = [f"{show(cost_a)} {ARROW} {show(cost_b)}"] if cost_a != cost_b else []
    parts += [f"vCPUs {_count(cores_a)} {ARROW} {_count(cores_b)}"] if cores_a != cores_b else []
    return "all pools at max: " + ", ".join(parts)


def provenance(after: StackConfig | None, summary: OperatorSummary) -> list[str]:
    """Where the prices of the changed pools come from: what a reviewer checks a cost figure against."""
    pools = {p.name: p for p in after.pools} if after else {}
    found = dict.fromkeys(pools[c.pool].pricing.provenance for c in summary.pools  # type: ignore[union-attr]
                          if c.pool in pools and pools[c.pool].pricing)
    return list(found)


def text_lead(summary: OperatorSummary, after: StackConfig | None, stack_path: str) -> list[str]:
    if summary.empty:
        return []
    lines = [f"the change ({stack_path}):", *(f"  {line}" for line in summary.lines())]
    lines += [f"  prices: {p}" for p in provenance(after, summary)]
    return lines


def markdown_lead(summary: OperatorSummary, after: StackConfig | None) -> list[str]:
    if summary.empty:
        return []
    items = [f"- **{line.split(':', 1)[0]}**:{line.split(':', 1)[1]}" if summary.unavailable is None else f"- {line}"
             for line in summary.lines()]
    blocks = ["**The change**", "\n".join(items)]
    sources = provenance(after, summary)
    if sources:
        blocks.append("<sub>prices: " + "; ".join(sources) + " — check them before approving on cost</sub>")
    return blocks
