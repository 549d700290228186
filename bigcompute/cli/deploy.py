"""`bigcompute plan` and `bigcompute apply`: workloads become Batch jobs, declaratively."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from bigcompute.cli.exit import (
    EXIT_CHANGES,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_UNREACHABLE,
    Exit,
)
from bigcompute.cli.options import target_args, target_options
from bigcompute.cli.parameters import given_values, parameter_options
from bigcompute.cli.paths import outputs_dir, workload_paths
from bigcompute.cli.render import plan_json, plan_markdown, plan_table, prune_table, unscoped_note
from bigcompute.cli.render_explain import (
    explanation_json,
    explanation_markdown,
    explanation_text,
    header_line,
)
from bigcompute.cli.terminal import Terminal
from bigcompute.cli.watch import WatchArgs, collect_outputs, watch_jobs
from bigcompute.config import load_stack
from bigcompute.project import NoProject, find_root, workloads_dir
from bigcompute.runner.apply import Hooks, apply_workload
from bigcompute.runner.clients import Clients
from bigcompute.runner.download import write_manifest
from bigcompute.runner.errors import DeployError, TargetLost
from bigcompute.runner.explain import explain
from bigcompute.runner.plan import Plan, WorkloadPlan, make_plan
from bigcompute.runner.prune import Candidate, Removal, remove
from bigcompute.runner.reach import connection_failure
from bigcompute.runner.refusals import refusal_message as refused
from bigcompute.runner.session import InvalidInput, TargetArgs, load_inputs, open_clients
from bigcompute.runner.target import local_target
from bigcompute.workload.parameters import Given


@dataclass(frozen=True)
class ApplyArgs:
    paths: tuple[str, ...]
    target: TargetArgs
    wait: bool
    download: str | None
    prune: bool
    poll_interval: float
    yes: bool = False
    force: bool = False
    given: tuple[Given, ...] = ()  # parameter values (--set, --values)
    timeout: float | None = None

    def reattach(self) -> str:
        """The command that watches these jobs again (apply is idempotent: it adds nothing, then waits)."""
        import shlex

        where = ["--stack", self.target.stack] + (["--target", "azure"] if self.target.target == "azure" else []) + \
            (["--outputs", self.target.outputs] if self.target.outputs else [])
        return shlex.join(["bigcompute", "apply", "--wait", *self.paths, *where])


def guarded(body) -> int:
    """Run a command body; invalid input exits 2 with every diagnostic, deploy errors exit 1 in one sentence."""
    term = Terminal()
    try:
        return body(term)
    except NoProject as e:
        term.error(str(e))
        return EXIT_INVALID
    except TargetLost as e:
        term.error(str(e))
        return EXIT_UNREACHABLE
    except InvalidInput as e:
        for d in e.diagnostics:
            term.error(str(d))
        term.error(f"{len(e.diagnostics)} problem(s) found; nothing was changed")
        return EXIT_INVALID
    except DeployError as e:
        term.error(str(e))
        return EXIT_FAILED
    except HttpResponseError as e:
        if e.status_code not in (401, 403):
            raise
        term.error(refused(e))
        return EXIT_FAILED
    except (ServiceRequestError, ServiceResponseError) as e:  # the SDK's retries are spent and the service still does not answer
        term.error(connection_failure(e, _local_endpoints()))
        return EXIT_UNREACHABLE


def _local_endpoints() -> dict[str, str]:
    """The local target's endpoints, to name the service that stopped answering (none for Azure)."""
    try:
        target = local_target()
    except (DeployError, NoProject):
        return {}
    return {"storage": target.blob_endpoint, "the Batch emulator": target.batch_endpoint} if target else {}


def open_plan(paths, target: TargetArgs, given=(), scan_tasks: bool = True) -> tuple[Clients, Plan]:
    stack, loaded = load_inputs(paths, target.stack, given, scan_tasks)  # validate everything first
    clients = open_clients(target)
    return clients, make_plan(clients, loaded, stack.batch.active_job_quota, whole_folder(paths))


def whole_folder(paths) -> bool:
    """Whether the workloads folder itself is applied (not some of its files): only then is a workload missing
    from it a removed one."""
    try:
        folder = workloads_dir(find_root())
    except NoProject:
        return False
    return any(Path(p).is_dir() and Path(p).resolve() == folder for p in paths)


def confirm_removal(term: Terminal, removal: Removal, force: bool, yes: bool) -> list[Candidate]:
    """Show what will be removed and skipped, then ask (unless --yes); returns the jobs to remove. Called before
    any side effect: refusing or declining changes nothing."""
    doomed = removal.doomed(force)
    for c in doomed:
        term.step(f"will {'terminate and ' if c.active else ''}delete job {c.job.id} ({c.reason}; {c.job.state})")
    for c in removal.skipped(force):
        term.warn(f"skipping job {c.job.id} ({c.reason}): it is still {c.job.state}; --force terminates it")
    if not doomed or yes:
        return doomed
    if not term.can_ask:
        term.error(f"refusing to delete {len(doomed)} job(s) without confirmation (no terminal to ask on): check "
                   "the list above and pass --yes; nothing was changed")
        raise Exit(EXIT_INVALID)
    if not term.confirm(f"Delete {len(doomed)} job(s)?"):
        term.error("nothing was changed")
        raise Exit(EXIT_FAILED)
    return doomed


def run_plan(paths: tuple[str, ...], target: TargetArgs, fmt: str, term: Terminal, given=(),
             detailed_exitcode: bool = False) -> int:
    clients, plan = open_plan(paths, target, given)
    try:
        why = explain(clients, plan, load_stack(target.stack))  # the stack was validated by open_plan
    finally:
        clients.close()
    if fmt == "json":
        term.write(plan_json(plan, explanation_json(why)))
    elif fmt == "markdown":
        term.write(f"{header_line(why)}\n\n{plan_markdown(plan)}{explanation_markdown(why)}")
    else:
        term.write(header_line(why) + "\n")
        term.table(plan_table(plan))
        term.write(explanation_text(why))
        if plan.prune.candidates:
            term.table(prune_table(plan))
        if plan.prune.unscoped:
            term.warn(unscoped_note(plan))
    return EXIT_CHANGES if detailed_exitcode and why.has_changes else EXIT_OK


def run_apply(args: ApplyArgs, term: Terminal) -> int:
    clients, plan = open_plan(args.paths, args.target, args.given)
    try:
        if plan.new_jobs > plan.headroom:
            raise DeployError(f"this apply creates {plan.new_jobs} jobs but the account has room for "
                              f"{plan.headroom} more active jobs ({plan.active_jobs} of {plan.quota} in use); "
                              "delete finished jobs with --prune or raise the quota")
        doomed = _prune_preview(plan, args, term)
        term.step(f"{plan.active_jobs} of {plan.quota} active jobs in use")
        for wp in plan.workloads:
            apply_one(clients, wp, term)
        code = EXIT_OK
        if args.wait:
            code = watch_jobs(clients, plan, term, WatchArgs(args.poll_interval, args.timeout, args.reattach()))
            if code in (EXIT_TIMEOUT, EXIT_INTERRUPTED):
                return code
            for wp in plan.workloads:
                body = write_manifest(clients.container("outputs"), wp.job_id)  # every completed job gets one
                folder = Path(args.download) if args.download else (outputs_dir() if wp.loaded.workload.download
                                                                    else None)
                if folder is not None:
                    collect_outputs(clients, wp, body, folder, term, everything=args.download is not None and
                                    not wp.loaded.workload.download)
        elif args.download:
            term.warn("--download needs --wait: outputs exist only once the job completes")
        for message in remove(clients, doomed, reason="pruned by bigcompute apply"):
            term.step(message)
        return code
    except KeyboardInterrupt:
        term.error("apply interrupted: run it again, it continues where it stopped (nothing is added twice)")
        return EXIT_INTERRUPTED
    finally:
        clients.close()


def _prune_preview(plan: Plan, args: ApplyArgs, term: Terminal) -> list[Candidate]:
    if not args.prune:
        return []
    if plan.prune.unscoped:
        term.warn(unscoped_note(plan))
    if not plan.prune.candidates:
        term.step("nothing to prune")
        return []
    return confirm_removal(term, plan.prune, args.force, args.yes)


def apply_one(clients: Clients, wp: WorkloadPlan, term: Terminal) -> None:
    if wp.status == "unchanged":
        term.success(f"{wp.name}: job {wp.job_id} is up to date")
        return
    with term.progress() as bar:
        task = bar.add_task(f"{wp.name}: tasks", total=wp.runs)
        hooks = Hooks(step=lambda m: term.step(f"{wp.name}: {m}"),
                      added=lambda n: bar.advance(task, n))
        report = apply_workload(clients, wp, hooks)
    term.success(f"{wp.name}: job {wp.job_id} submitted ({report.added:,} tasks added, "
                 f"{report.existing:,} already there)")


@click.command("plan")
@click.argument("workloads", nargs=-1, type=click.Path())
@target_options
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table", show_default=True)
@click.option("--detailed-exitcode", is_flag=True,
              help=f"Exit {EXIT_CHANGES} when apply would change something (a new, changed or half-submitted job), "
                   "0 when not; 1 and 2 keep their meaning (like `terraform plan -detailed-exitcode`, whose 2 is "
                   "taken here by invalid input).")
@parameter_options
def plan_command(workloads, target_kind, stack, outputs_file, fmt, detailed_exitcode, sets, values_file) -> None:
    """Show what apply would do, changing nothing: where (target, stack, accounts), which jobs it creates and
    why (the fields and input files that changed), what becomes of the jobs they supersede, what may be pruned,
    and what the run should cost (from the workload's task history, else the pool's hourly cost)."""
    args = target_args(target_kind, stack, outputs_file)
    given = given_values(sets, values_file)
    Exit.run(lambda: guarded(lambda term: run_plan(workload_paths(workloads), args, fmt, term, given,
                                                   detailed_exitcode)))


@click.command("apply")
@click.argument("workloads", nargs=-1, type=click.Path())
@target_options
@click.option("--wait", is_flag=True, help="Watch the jobs to the end; exit 1 when a task failed, 4 when the target "
              "stops answering, 130 on Ctrl-C (the jobs keep running). While nothing runs, says why.")
@click.option("--download", type=click.Path(file_okay=False), help="With --wait: fetch outputs into DIR/<workload>/.")
@click.option("--prune", is_flag=True,
              help="Delete this repository's and stack's jobs that the applied workloads supersede; with the whole "
                   "workloads folder, also those of removed workloads. Asks first.")
@click.option("--force", is_flag=True, help="With --prune: also terminate active jobs (else they are skipped).")
@click.option("--yes", is_flag=True, help="Prune without asking (for CI).")
@click.option("--poll-interval", type=float, default=2.0, show_default=True, help="Seconds between progress polls.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="With --wait: stop watching after SECONDS (exit 5); the jobs keep running.")
@parameter_options
def apply_command(workloads, target_kind, stack, outputs_file, wait, download, prune, force, yes,
                  poll_interval, timeout, sets, values_file) -> None:
    """Turn workload files into Batch jobs and tasks (idempotent: unchanged workloads create nothing)."""
    def body(term: Terminal) -> int:
        args = ApplyArgs(workload_paths(workloads), target_args(target_kind, stack, outputs_file), wait, download,
                         prune, poll_interval, yes, force, given=tuple(given_values(sets, values_file)),
                         timeout=timeout)
        return run_apply(args, term)
    Exit.run(lambda: guarded(body))
