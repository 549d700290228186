"""Everything one runner command needs, put together once: the stack config, the target, the clients,
and the workloads (all validated before the first side effect)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from bigcompute.config import ConfigError, StackConfig, load_stack
from bigcompute.project import find_root, local_dir, private_dir, shown
from bigcompute.runner.clients import Clients, connect
from bigcompute.runner.errors import DeployError, InvalidInput, TargetLost
from bigcompute.runner.reach import listening, not_reachable
from bigcompute.runner.target import Target, TargetArgs, azure_target, local_target
from bigcompute.workload import DEFAULT_MAX_TASKS, LoadedWorkload, check_workloads
from bigcompute.workload.parameters import Given

__all__ = ["InvalidInput", "TargetArgs", "load_inputs", "open_clients", "resolve_target", "sign_in_failure"]


def load_inputs(paths: Iterable[str], stack_name: str, given: Sequence[Given] = (),
                max_tasks: int = DEFAULT_MAX_TASKS, scan_tasks: bool = True) -> tuple[StackConfig, list[LoadedWorkload]]:
    """`given`: values of the workloads' parameters (`--set`, `--values`); `max_tasks`: the most tasks a workload
    may expand to; `scan_tasks=False` for commands that only read (see `load_workload`)."""
    try:
        stack = load_stack(stack_name)
    except ConfigError as e:
        raise InvalidInput(e.diagnostics) from None
    loaded, problems = [], []
    for _, lw, diagnostics in check_workloads(paths, given=given, pools=stack.pools_by_name(), max_tasks=max_tasks,
                                              scan_tasks=scan_tasks):
        problems += diagnostics
        if lw:
            loaded.append(lw)
    if problems:
        raise InvalidInput(problems)
    names = [lw.workload.name for lw in loaded]
    twins = sorted({n for n in names if names.count(n) > 1})
    if twins:
        raise DeployError(f"two workload files share the name {', '.join(twins)}; names must be unique")
    return stack, loaded


def resolve_target(args: TargetArgs) -> Target:
    if args.target == "azure":
        return azure_target(args.stack, args.outputs)
    from bigcompute.local import launcher  # the one place the runner reaches the local target: to start it

    root = find_root()
    if not _reachable(local_target(local_dir(root))):
        private_dir(root)
        try:
            started = launcher.up(args.stack, root=Path(shown(local_dir(root))))
        except launcher.LauncherError as e:
            raise DeployError(f"the local target was not running and could not be started: {e}") from None
        out = started.outputs
        if not started.started:
            raise DeployError(f"the local target's processes run but its emulator does not answer at "
                              f"{out['batchAccountEndpoint']}: run `bigcompute local down`, then retry")
        args.notify(f"the local target was not running: started it (Batch emulator {out['batchAccountEndpoint']}, "
                    f"Azurite {out['blobEndpoint']}); `bigcompute local down` stops it")
        for note in started.notes:
            args.notify(note)
    target = local_target(local_dir(root))
    if target is None:
        raise DeployError("the local target did not start; run `bigcompute local up` to see why")
    return target


def _reachable(target: Target | None) -> bool:
    """Whether the local target's emulator answers (its processes may have been stopped meanwhile)."""
    return target is not None and listening(target.batch_endpoint)


def _check_storage(target: Target) -> None:
    """Azurite may be stopped while the emulator runs: say so now, rather than after minutes of retries."""
    if target.kind == "local" and not listening(target.blob_endpoint):
        raise TargetLost(not_reachable("storage", target.blob_endpoint))


def open_clients(args: TargetArgs) -> Clients:
    target = resolve_target(args)
    _check_storage(target)
    clients = connect(target)
    if target.kind == "azure":
        _check_login(clients)
    return clients


def _check_login(clients: Clients) -> None:
    from azure.core.exceptions import ClientAuthenticationError

    try:
        next(iter(clients.batch.list_supported_images(max_results=1)), None)
    except ClientAuthenticationError as e:
        raise DeployError(sign_in_failure(str(e))) from None


def sign_in_failure(error: str) -> str:
    """The sentence for a failed sign-in: Entra ID's AADSTS code when it gave one (never a token), and, in GitHub
    Actions, where the federation is set up."""
    import re

    from bigcompute.runner.credentials import github_federation

    code = re.search(r"AADSTS\d+", error)
    said = f" (Entra ID answered {code.group(0)})" if code else ""
    if github_federation():
        return (f"Azure refused the GitHub OIDC sign-in of AZURE_CLIENT_ID{said}: check that the app registration "
                "has a federated credential for this repository and environment (docs/gitops.md) and that the job "
                "has `permissions: id-token: write`")
    return (f"not logged in to Azure{said}: run `az login` (or set AZURE_CLIENT_ID, AZURE_TENANT_ID and a federated "
            "token or secret for a service principal), then retry")
