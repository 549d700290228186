"""Why a pool runs nothing, read from Batch's own pool and node objects: resize errors, allocation short of its
target, the last autoscale run's error, and nodes in `unusable` or `starttaskfailed` with the start task's stderr.

Where to look: https://learn.microsoft.com/azure/batch/batch-pool-node-error-checking; resize error codes:
https://learn.microsoft.com/dotnet/api/microsoft.azure.batch.common.poolresizeerrorcodes
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from azure.batch import models as batch

from bigcompute.runner.doctor.findings import Finding, fail, ok, warn
from bigcompute.runner.jobs import wire

SHOWN_NODES = 3  # nodes quoted per state; the rest are counted
QUOTA_CODES = {"AccountCoreQuotaReached", "AccountLowPriorityCoreQuotaReached", "AccountSpotCoreQuotaReached"}


def _values(pairs) -> str:
    return "; ".join(f"{p.name}: {p.value}" for p in pairs or [] if p.name or p.value)


def _error(code: str | None, message: str | None, pairs=None) -> str:
    extra = _values(pairs)
    return f"{code or 'error'}: {message or ''}".rstrip(": ") + (f" ({extra})" if extra else "")


def _resize_action(code: str | None, stack: str) -> str:
    if code in QUOTA_CODES:
        return ("the Batch account's vCPU quota is spent: request an increase (portal: Batch account > Quotas), "
                f"or lower the pool's maxNodes / vmSize in stacks/Pulumi.{stack}.yaml")
    if code in ("AllocationFailed", "AllocationTimedOut"):
        return "Azure had no capacity for this size here: retry later, or choose another vmSize or region"
    return "fix what the message names in the stack, then `pulumi up`; the pool retries on its next resize"


def pool_findings(name: str, pool_id: str, pool: batch.BatchPool | None, stack: str,
                  active_jobs: int = 0) -> list[Finding]:
    """Resize errors, allocation and autoscale of one pool; `active_jobs`: active jobs bound to it."""
    check = f"pool {name}"
    if pool is None:
        return [fail(check, f"pool '{pool_id}' does not exist in the Batch account",
                     f"deploy it: `pulumi up --stack {stack}` (local target: `bigcompute local up --stack {stack}`)")]
    found = [fail(f"{check}: resize", _error(e.code, e.message, e.error_values), _resize_action(e.code, stack))
             for e in pool.resize_errors or []]
    found.append(_allocation(check, pool, active_jobs))
    if pool.enable_auto_scale:
        found.append(_autoscale(check, pool, stack))
    return found


def _allocation(check: str, pool: batch.BatchPool, active_jobs: int) -> Finding:
    cur = (pool.current_dedicated_nodes or 0, pool.current_low_priority_nodes or 0)
    tgt = (pool.target_dedicated_nodes or 0, pool.target_low_priority_nodes or 0)
    state = wire(pool.allocation_state)
    detail = f"{state}; dedicated {cur[0]}/{tgt[0]}, spot {cur[1]}/{tgt[1]} (current/target)"
    if state == "steady" and cur != tgt:
        return warn(f"{check}: nodes", detail, "the pool stopped short of its target: see its resize errors; "
                    "spot nodes may have been preempted (Batch replaces them when capacity returns)")
    if state in ("resizing", "stopping"):
        return _resizing(f"{check}: nodes", pool, detail)
    if sum(tgt) == 0 and active_jobs:
        how = ("its autoscale formula asks for 0 nodes: check the last run's results below"
               if pool.enable_auto_scale else "its fixed size is 0: raise scale.fixed in the stack")
        return warn(f"{check}: nodes", f"{detail}, while {active_jobs} active job(s) wait for it",
                    f"no node will run their tasks: {how}")
    return ok(f"{check}: nodes", detail)


def _resizing(check: str, pool: batch.BatchPool, detail: str) -> Finding:
    """A resize under way: nodes come up one by one (creating, starting, the start task, then idle), which takes
    a few minutes on Azure; past the pool's resizeTimeout Batch stops it with an AllocationTimedOut error."""
    since = pool.allocation_state_transition_time
    if since is None:
        return ok(check, f"{detail}: Batch is allocating the nodes; tasks start as each one becomes idle")
    took = dt.datetime.now(dt.UTC) - since
    detail = f"{detail}, {wire(pool.allocation_state)} for {int(took.total_seconds())} s"
    if pool.resize_timeout and took > pool.resize_timeout:
        return warn(check, f"{detail}, past its resizeTimeout ({int(pool.resize_timeout.total_seconds() // 60)} min)",
                    "Batch ends the resize with an AllocationTimedOut error (see the pool's resize errors): often no "
                    "capacity for this vmSize here; retry later or choose another size or region")
    return ok(check, f"{detail}: Batch is allocating the nodes; tasks start as each one becomes idle")


def _autoscale(check: str, pool: batch.BatchPool, stack: str) -> Finding:
    run = pool.auto_scale_run
    if run is None:
        return ok(f"{check}: autoscale", "not evaluated yet")
    when = run.timestamp.isoformat(timespec="seconds") if run.timestamp else "?"
    if run.error:
        return fail(f"{check}: autoscale", f"last run ({when}) failed: "
                    f"{_error(run.error.code, run.error.message, run.error.error_values)}",
                    f"the pool keeps its previous size until the formula evaluates: fix it in stacks/Pulumi.{stack}.yaml "
                    f"(try it with `bigcompute autoscale simulate --stack {stack}`), then `pulumi up`")
    return ok(f"{check}: autoscale", f"last run ({when}): {(run.results or '').strip() or 'no results'}")


BAD_NODE_STATES = ("starttaskfailed", "unusable")


def node_findings(name: str, pool_id: str, nodes: Sequence[batch.BatchNode], stack: str,
                  stderr_tail: Callable[[batch.BatchNode], str | None]) -> list[Finding]:
    """One finding per troubled state (quoting a few nodes), or one `ok` with the pool's node states."""
    check = f"pool {name}: node health"
    by_state: dict[str, list[batch.BatchNode]] = {}
    for node in nodes:
        by_state.setdefault(wire(node.state), []).append(node)
    found = [_bad_nodes(check, state, by_state[state], stack, stderr_tail) for state in BAD_NODE_STATES
             if by_state.get(state)]
    if not found:
        counts = ", ".join(f"{s} {len(n)}" for s, n in sorted(by_state.items())) or "no nodes"
        found.append(ok(check, counts))
    return found


def _bad_nodes(check: str, state: str, nodes: list[batch.BatchNode], stack: str,
               stderr_tail: Callable[[batch.BatchNode], str | None]) -> Finding:
    quoted = [(_start_task_failure if state == "starttaskfailed" else _unusable)(n, stderr_tail)
              for n in nodes[:SHOWN_NODES]]
    more = f"\n(and {len(nodes) - SHOWN_NODES} more)" if len(nodes) > SHOWN_NODES else ""
    detail = f"{len(nodes)} node(s) {state}:\n" + "\n".join(quoted) + more
    if state == "starttaskfailed":
        action = (f"nodes whose start task failed take no tasks: fix the pool's startTask in stacks/Pulumi.{stack}.yaml "
                  "(command, aptPackages, pipPackages), `pulumi up`, then reboot the nodes (`az batch node reboot`) "
                  "or let the pool recreate them")
    else:
        action = ("Batch could not set the node up: check the pool's network (the subnet's NSG and routes must allow "
                  "Batch node management; with a private endpoint, its DNS zone must resolve), the image and the VM "
                  "size, then reboot or remove the node")
    return fail(f"{check} ({state})", detail, action)


def _start_task_failure(node: batch.BatchNode, stderr_tail: Callable[[batch.BatchNode], str | None]) -> str:
    info = node.start_task_info
    parts = [f"node {node.id}: start task failed"]
    if info is not None:
        if info.exit_code is not None:
            parts.append(f"exit code {info.exit_code}")
        if info.failure_info is not None:
            f = info.failure_info
            parts.append(_error(f.code, f.message, f.details))
    line = ", ".join(parts)
    tail = stderr_tail(node)
    return f"{line}\n  stderr (startup/stderr.txt, last lines):\n" + "\n".join(
        f"    {t}" for t in tail.splitlines()) if tail else line


def _unusable(node: batch.BatchNode, stderr_tail: Callable[[batch.BatchNode], str | None]) -> str:
    errors = "; ".join(_error(e.code, e.message, e.error_details) for e in node.errors or [])
    return f"node {node.id}: unusable" + (f" ({errors})" if errors else " (Batch gave no error)")
