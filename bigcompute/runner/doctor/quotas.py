"""The Batch account's quotas against what the stack's pools may ask for, and active-job headroom.

Batch service mode counts vCPUs: dedicated nodes against the account's total dedicated quota and, when
`dedicatedCoreQuotaPerVMFamilyEnforced`, against their VM family's quota too; spot nodes against the total
low-priority quota alone. Pools and active jobs (with job schedules) have quotas of their own.
https://learn.microsoft.com/azure/batch/batch-quota-limit
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bigcompute.config import AutoScale, FixedScale, PoolConfig
from bigcompute.runner.doctor.findings import Finding, fail, ok, warn
from bigcompute.vm_sizes import vcpus

JOB_HEADROOM_WARN = 0.1  # warn when fewer than this share of the active-job quota is left
QUOTA_PAGE = "request an increase in the portal (Batch account > Quotas > Request quota increase)"


@dataclass(frozen=True)
class PoolNeed:
    """The most vCPUs a pool may ask for; None where its size cannot be bounded (a raw formula, an unknown size)."""
    name: str
    vm_size: str
    vcpus: int | None
    dedicated_nodes: int | None
    spot_nodes: int | None

    @property
    def dedicated(self) -> int | None:
        return None if self.vcpus is None or self.dedicated_nodes is None else self.vcpus * self.dedicated_nodes

    @property
    def spot(self) -> int | None:
        return None if self.vcpus is None or self.spot_nodes is None else self.vcpus * self.spot_nodes


def pool_need(cfg: PoolConfig) -> PoolNeed:
    size = vcpus(cfg.vm_size)
    if isinstance(cfg.scale, FixedScale):
        return PoolNeed(cfg.name, cfg.vm_size, size, cfg.scale.dedicated, cfg.scale.spot)
    assert isinstance(cfg.scale, AutoScale)
    if cfg.scale.preset is None:  # a hand-written formula: its ceiling is whatever it computes
        return PoolNeed(cfg.name, cfg.vm_size, size, None, None)
    from bigcompute.autoscale import presets

    most = int({**presets.PRESETS[cfg.scale.preset].defaults(), **cfg.scale.params}["maxNodes"])
    # every preset keeps its targets within [minNodes, maxNodes]; those that never ask for spot say so literally
    spot = 0 if "$TargetLowPriorityNodes = 0;" in (cfg.formula() or "") else most
    return PoolNeed(cfg.name, cfg.vm_size, size, most, spot)


@dataclass(frozen=True)
class AccountQuotas:
    """The quota fields of a Batch account (ARM `Microsoft.Batch/batchAccounts` GET)."""
    dedicated: int | None
    spot: int | None
    per_family: Mapping[str, int]  # family name (lower case) -> vCPUs
    per_family_enforced: bool
    pools: int | None
    active_jobs: int | None


def quota_findings(quotas: AccountQuotas, needs: Sequence[PoolNeed], families: Mapping[str, str],
                   pools_in_account: int, stack: str) -> list[Finding]:
    """`families`: VM size (lower case) -> its quota family, as Batch names it for the account's region."""
    found = [f for f in (_unbounded(n, stack) for n in needs) if f]
    found.append(_total("dedicated vCPU quota", quotas.dedicated, [(n.name, n.dedicated) for n in needs], stack))
    found.append(_total("spot vCPU quota", quotas.spot, [(n.name, n.spot) for n in needs if n.spot_nodes], stack))
    if quotas.per_family_enforced:
        found += _families(quotas, needs, families, stack)
    if quotas.pools is not None:
        found.append(_pools(quotas.pools, pools_in_account))
    return found


def _unbounded(need: PoolNeed, stack: str) -> Finding | None:
    if need.vcpus is None:
        return warn(f"quota: pool {need.name}", f"vmSize {need.vm_size} is not in bigcompute's vCPU table",
                    "add it to bigcompute/vm_sizes.py with its Azure page, so quotas can be checked")
    if need.dedicated_nodes is None:
        return warn(f"quota: pool {need.name}", "its autoscale formula is hand-written: its largest size is unknown",
                    "use a preset with maxNodes, or check the formula's ceiling against the quotas below by hand")
    return None


def _total(check: str, quota: int | None, parts: Sequence[tuple[str, int | None]], stack: str) -> Finding:
    known = [(name, v) for name, v in parts if v]
    need = sum(v for _, v in known)
    spelled = " + ".join(f"{name} {v}" for name, v in known) or "no pool"
    if quota is None:
        return warn(f"quota: {check}", f"the account did not report it; the pools may ask for {need} ({spelled})",
                    "check the account's quotas in the portal")
    detail = f"pools may ask for {need} vCPUs ({spelled}) of a quota of {quota}"
    if need > quota:
        return fail(f"quota: {check}", detail, f"resizes will stop at the quota (AccountCoreQuotaReached): {QUOTA_PAGE}, "
                    f"or lower maxNodes / vmSize in stacks/Pulumi.{stack}.yaml")
    return ok(f"quota: {check}", detail)


def _families(quotas: AccountQuotas, needs: Sequence[PoolNeed], families: Mapping[str, str],
              stack: str) -> list[Finding]:
    by_family: dict[str, list[PoolNeed]] = {}
    found: list[Finding] = []
    for n in needs:
        family = families.get(n.vm_size.lower())
        if family is None:
            found.append(warn(f"quota: pool {n.name}", f"Batch does not list vmSize {n.vm_size} in this region",
                              "choose a size `az batch location list-skus` lists for the account's region"))
        elif n.dedicated:
            by_family.setdefault(family, []).append(n)
    for family, pools in sorted(by_family.items()):
        quota = quotas.per_family.get(family.lower(), 0)  # a family the account lists no quota for has none
        found.append(_total(f"{family} vCPU quota", quota, [(n.name, n.dedicated) for n in pools], stack))
    return found


def _pools(quota: int, count: int) -> Finding:
    detail = f"{count} pool(s) in the account of a quota of {quota}"
    if count >= quota:
        return warn("quota: pools", detail, f"no new pool can be created: delete unused pools or {QUOTA_PAGE}")
    return ok("quota: pools", detail)


def job_quota_finding(active: int, quota: int, source: str) -> Finding:
    """Active jobs against the account's active job and job schedule quota (`source` says where it comes from)."""
    detail = f"{active} active job(s) of a quota of {quota} ({source}); {max(quota - active, 0)} left"
    if active >= quota:
        return fail("quota: active jobs", detail, "new jobs are refused until some complete: delete finished "
                    f"workloads' jobs (`bigcompute apply --prune`, `bigcompute delete`) or {QUOTA_PAGE}")
    if quota - active < max(1, quota * JOB_HEADROOM_WARN):
        return warn("quota: active jobs", detail, "little room for new jobs: prune jobs of removed or superseded "
                    "workloads (`bigcompute apply --prune`)")
    return ok("quota: active jobs", detail)
