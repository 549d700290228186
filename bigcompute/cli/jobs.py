"""`bigcompute status | pools | logs | download | delete`: look at and tidy up what apply created."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from bigcompute.cli.deploy import confirm_removal, guarded, open_plan
from bigcompute.cli.exit import EXIT_OK, Exit
from bigcompute.cli.options import target_args, target_options
from bigcompute.cli.paths import outputs_dir, workload_paths
from bigcompute.cli.render import simple_table
from bigcompute.cli.terminal import Terminal
from bigcompute.cli.watch import collect_outputs
from bigcompute.runner.download import read_manifest
from bigcompute.runner.errors import DeployError
from bigcompute.runner.jobs import wire
from bigcompute.runner.plan import Plan, WorkloadPlan
from bigcompute.runner.prune import remove, workload_jobs
from bigcompute.runner.session import TargetArgs, load_inputs, open_clients
from bigcompute.runner.status import pool_status, workload_status

FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)


def find_workload(plan: Plan, name: str) -> WorkloadPlan:
    """The workload called `name`, or the one defined in the file `name` (by its `name:`, not the file's stem)."""
    as_file = Path(name).resolve() if Path(name).is_file() else None
    for wp in plan.workloads:
        if wp.name == name or (as_file is not None and wp.loaded.workload.path.resolve() == as_file):
            return wp
    raise DeployError(f"no workload named '{name}' in {', '.join(w.name for w in plan.workloads) or 'workloads/'}")


def _current_job(plan: Plan, wp: WorkloadPlan) -> str:
    """The job of the workload's current spec, or its most recent job when the spec changed since."""
    if any(j.id == wp.job_id for j in plan.jobs):
        return wp.job_id
    mine = sorted((j for j in plan.jobs_of(wp.name) if j.creation_time), key=lambda j: j.creation_time)
    if not mine:
        raise DeployError(f"workload {wp.name} has no job yet; run `bigcompute apply`")
    return mine[-1].id


@click.command("status")
@click.argument("workloads", nargs=-1, type=click.Path())
@target_options
@FORMAT
def status_command(workloads, target_kind, stack, outputs_file, fmt) -> None:
    """A row per workload: job, state, task counts, started, duration."""
    def body(term: Terminal) -> int:
        # a read: the per-task checks are apply's (a 1M-task sweep would spend seconds on them)
        clients, plan = open_plan(workload_paths(workloads), target_args(target_kind, stack, outputs_file),
                                  scan_tasks=False)
        rows = workload_status(clients, plan)
        clients.close()
        if fmt == "json":
            term.write(json.dumps([{**r.__dict__, "started": r.started.isoformat() if r.started else None}
                                   for r in rows], indent=2) + "\n")
        else:
            term.table(simple_table("bigcompute status", ["workload", "job", "state", "active", "running",
                                                          "succeeded", "failed", "started", "duration"],
                                    [(r.workload, r.job or "-", r.state, r.active, r.running, r.succeeded,
                                      r.failed, r.started.strftime("%Y-%m-%d %H:%M:%S") if r.started else "-",
                                      f"{r.duration_s:.0f}s" if r.duration_s is not None else "-") for r in rows]))
        return EXIT_OK
    Exit.run(lambda: guarded(body))


@click.command("pools")
@target_options
@FORMAT
def pools_command(target_kind, stack, outputs_file, fmt) -> None:
    """The ops view of pool sizing, and drift between live pools and the stack file."""
    def body(term: Terminal) -> int:
        args = target_args(target_kind, stack, outputs_file)
        config, _ = load_inputs((), args.stack)
        clients = open_clients(args)
        rows = pool_status(clients, config)
        clients.close()
        if fmt == "json":
            term.write(json.dumps([{**r.__dict__, "next_evaluation": r.next_evaluation.isoformat()
                                    if r.next_evaluation else None} for r in rows], indent=2, default=str) + "\n")
        else:
            term.table(simple_table("bigcompute pools", ["pool", "vm size", "dedicated (cur/target)",
                                                         "spot (cur/target)", "allocation", "nodes", "autoscale",
                                                         "next evaluation", "drift"],
                                    [(r.name, r.vm_size or "-", "{}/{}".format(*r.dedicated), "{}/{}".format(*r.spot),
                                      r.allocation_state, ", ".join(f"{k} {v}" for k, v in r.node_states.items())
                                      or "-", r.autoscale, r.next_evaluation or "-", "; ".join(r.drift) or "none")
                                     for r in rows]))
        return EXIT_OK
    Exit.run(lambda: guarded(body))


@click.command("logs")
@click.argument("workload")
@click.argument("task", required=False)
@target_options
@click.option("--stderr", "stream", flag_value="stderr.txt", default="stdout.txt", help="Show stderr instead.")
@click.option("--follow", is_flag=True, help="Keep printing output until the task completes.")
def logs_command(workload, task, target_kind, stack, outputs_file, stream, follow) -> None:
    """Print a task's stdout (or --stderr); TASK defaults to the first failed task, else the merge, else the first."""
    def body(term: Terminal) -> int:
        clients, plan = open_plan((workload,) if Path(workload).is_file() else workload_paths(()),
                                  target_args(target_kind, stack, outputs_file))
        job = _current_job(plan, find_workload(plan, workload))
        task_id = task or _default_task(clients, job)
        offset = 0
        while True:
            offset += _print_from(clients, job, task_id, stream, offset, term)
            if not follow or wire(clients.batch.get_task(job, task_id, select=["state"]).state) == "completed":
                offset += _print_from(clients, job, task_id, stream, offset, term) if follow else 0
                break
            time.sleep(1)
        clients.close()
        return EXIT_OK
    Exit.run(lambda: guarded(body))


def _default_task(clients, job: str) -> str:
    failed = list(clients.batch.list_tasks(job, filter="executionInfo/result eq 'failure'", select=["id"],
                                           max_results=1))
    if failed:
        return failed[0].id
    ids = [t.id for t in clients.batch.list_tasks(job, select=["id"], max_results=1000)]
    if not ids:
        raise DeployError(f"job {job} has no tasks")
    return "merge" if "merge" in ids else ids[0]


def _print_from(clients, job: str, task: str, stream: str, offset: int, term: Terminal) -> int:
    try:
        data = b"".join(clients.batch.download_task_file(job, task, stream, ocp_range=f"bytes={offset}-"))
    except ResourceNotFoundError:
        data = _from_blob(clients, job, task, stream, offset)
    except HttpResponseError as e:
        raise DeployError(f"cannot read {stream} of task {task}: {e.reason}") from None
    term.write_untrusted(data.decode("utf-8", "replace"))
    return len(data)


def _from_blob(clients, job: str, task: str, stream: str, offset: int) -> bytes:
    """The node no longer has the file: read the copy uploaded when the task completed."""
    try:
        blob = clients.container("outputs").get_blob_client(f"{job}/{task}/logs/{stream}")
        return blob.download_blob(offset=offset or None).readall()
    except ResourceNotFoundError:
        raise DeployError(f"no {stream} for task {task} of job {job}") from None


@click.command("download")
@click.argument("workload")
@target_options
@click.option("--to", "folder", type=click.Path(file_okay=False), default=None,
              help="Folder to download into (default: the project's out/).")
@click.option("--all", "everything", is_flag=True, help="Every output, not only the workload's `download:` list.")
def download_command(workload, target_kind, stack, outputs_file, folder, everything) -> None:
    """Fetch a workload's outputs into FOLDER/<workload>/, using the job's output manifest."""
    def body(term: Terminal) -> int:
        clients, plan = open_plan(workload_paths(()), target_args(target_kind, stack, outputs_file))
        wp = find_workload(plan, workload)
        job = _current_job(plan, wp)
        if job != wp.job_id:
            term.warn(f"{wp.name}: downloading from {job}, the job of an earlier spec")
        body = read_manifest(clients.container("outputs"), job)
        collect_outputs(clients, wp if job == wp.job_id else _with_job(wp, job), body,
                        Path(folder) if folder else outputs_dir(), term,
                        everything or not wp.loaded.workload.download)
        clients.close()
        return EXIT_OK
    Exit.run(lambda: guarded(body))


def _with_job(wp: WorkloadPlan, job: str) -> WorkloadPlan:
    from dataclasses import replace

    return replace(wp, job_id=job)


@click.command("delete")
@click.argument("workload")
@target_options
@click.option("--force", is_flag=True, help="Also terminate active jobs (else they are skipped).")
@click.option("--yes", is_flag=True, help="Delete without asking (for CI).")
def delete_command(workload, target_kind, stack, outputs_file, force, yes) -> None:
    """Terminate and delete WORKLOAD's jobs created from this repository on this stack (shown first, then asked)."""
    def body(term: Terminal) -> int:
        args: TargetArgs = target_args(target_kind, stack, outputs_file)
        clients, plan = open_plan(workload_paths(()), args)
        try:
            removal = workload_jobs(plan.jobs, workload, plan.scope)
            if not removal.candidates:
                term.warn(f"workload {workload} has no jobs from this repository on stack {plan.scope.stack}")
            for message in remove(clients, confirm_removal(term, removal, force, yes),
                                  reason="deleted with bigcompute delete"):
                term.step(message)
        finally:
            clients.close()
        return EXIT_OK
    Exit.run(lambda: guarded(body))
