"""Why a watched job makes no progress: the pools its tasks wait for, read with the same checks as `doctor`
(size and allocation state, resize errors such as a spent vCPU quota, the last autoscale run, nodes whose start
task failed or that are unusable); and whether the target still answers at all."""

from __future__ import annotations

from collections.abc import Iterable

from azure.core.exceptions import ResourceNotFoundError

from bigcompute.runner.clients import Clients
from bigcompute.runner.doctor.findings import Finding, ok
from bigcompute.runner.doctor.pools import node_findings, pool_findings
from bigcompute.runner.errors import TargetLost
from bigcompute.runner.reach import listening, not_reachable
from bigcompute.runner.status import next_autoscale_run


def pool_report(clients: Clients, pools: Iterable[str], waiting_jobs: int = 1) -> list[Finding]:
    """For each of the stack's pools (by name) the waiting tasks need: its allocation, then what is wrong with it."""
    target = clients.target
    found: list[Finding] = []
    for name in sorted(set(pools)):
        pool_id = target.pool_id(name)
        try:
            pool = clients.batch.get_pool(pool_id)
        except ResourceNotFoundError:
            pool = None
        found += pool_findings(name, pool_id, pool, target.stack, active_jobs=waiting_jobs)
        when = next_autoscale_run(pool) if pool is not None and pool.enable_auto_scale else None
        if when is not None:
            found.append(ok(f"pool {name}: autoscale", f"next evaluation at {when:%H:%M:%S} UTC"))
        if pool is not None:
            nodes = list(clients.batch.list_nodes(pool_id))
            found += [f for f in node_findings(name, pool_id, nodes, target.stack, lambda node: None)
                      if f.status != "ok"]
    return found


def check_reachable(clients: Clients) -> None:
    """Raise TargetLost at once when nothing listens at the Batch endpoint, rather than after the SDK's retries."""
    endpoint = clients.target.batch_endpoint
    if not listening(endpoint, timeout=3.0) and not listening(endpoint, timeout=3.0):
        service = "the Batch emulator" if clients.target.kind == "local" else "Batch"
        raise TargetLost(not_reachable(service, endpoint))
