"""`bigcompute validate` and `bigcompute expand`: check workloads and the stack before any side effect."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from bigcompute.cli.exit import EXIT_INVALID, EXIT_OK, Exit
from bigcompute.cli.parameters import given_values, parameter_options
from bigcompute.cli.paths import workload_paths
from bigcompute.cli.report import FileResult, report
from bigcompute.config import ConfigError, load_stack
from bigcompute.workload import DEFAULT_MAX_TASKS, LoadedWorkload, check_workloads, count_tasks
from bigcompute.workload.parameters import Given
from bigcompute.workload.wire import StorageContext


@dataclass(frozen=True)
class ValidateArgs:
    paths: tuple[str, ...]
    stack: str | None
    fmt: str
    max_tasks: int
    given: tuple[Given, ...] = ()


def run_validate(args: ValidateArgs) -> int:
    results: list[FileResult] = []
    pools, stack_pools = None, ()
    if args.stack:
        try:
            stack = load_stack(args.stack)
            pools, stack_pools = stack.task_slots(), stack.pools
            results.append(FileResult(stack.path, "stack", summary=f"{len(pools)} pools"))
        except ConfigError as e:
            results.append(FileResult(e.diagnostics[0].file, "stack", e.diagnostics))
    for path, loaded, problems in check_workloads(args.paths, given=args.given, pools=pools, max_tasks=args.max_tasks,
                                                      stack_pools=stack_pools):
        summary = ""
        if loaded:
            n = count_tasks(loaded.workload, loaded.files)
            summary = f"{n:,} task{'s' if n != 1 else ''}, {len(loaded.files)} input file" + \
                ("s" if len(loaded.files) != 1 else "")
            if loaded.workload.unlisted:  # `foreach: {blobs: …}`: storage is listed by plan, not validate
                summary += "; plus one task per blob that `plan` lists"
            if loaded.workload.parameters:
                summary += f"; {parameter_text(loaded.workload.parameters)}"
        results.append(FileResult(str(path), "workload", problems, summary, list(loaded.warnings) if loaded else []))
    if not results:
        raise Exit(EXIT_INVALID, f"no workload files found in {', '.join(args.paths)}")
    report(results, args.fmt, sys.stdout)
    return EXIT_OK if all(r.valid for r in results) else EXIT_INVALID


def parameter_text(values) -> str:
    return ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in values.items())


FORMATS = click.Choice(["text", "json", "github"])


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--stack", help="Also check the stack file stacks/Pulumi.<STACK>.yaml and that each pool exists in it.")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True, help="Output format.")
@click.option("--max-tasks", type=click.IntRange(min=1), default=DEFAULT_MAX_TASKS, show_default=True,
              envvar="BIGCOMPUTE_MAX_TASKS", help="Largest number of tasks one workload may expand to.")
@parameter_options
def validate_command(paths: tuple[str, ...], stack: str | None, fmt: str, max_tasks: int, sets, values_file) -> None:
    """Check workload files (default: workloads/) and, with --stack, the stack config. Exit 2 when invalid."""
    Exit.run(lambda: run_validate(ValidateArgs(workload_paths(paths), stack, fmt, max_tasks,
                                               tuple(given_values(sets, values_file)))))


@click.command("expand")
@click.argument("workload", type=click.Path())
@click.option("--limit", type=click.IntRange(min=0), default=10, show_default=True, help="Tasks to print.")
@click.option("--outputs", "outputs_file", type=click.Path(dir_okay=False),
              help="Stack outputs JSON (default: the local target's, else example URLs).")
@parameter_options
def expand_command(workload: str, limit: int, outputs_file: str | None, sets, values_file) -> None:
    """Print the first tasks of WORKLOAD exactly as the Batch task JSON that would be submitted."""
    Exit.run(lambda: run_expand(workload, limit, outputs_file, given_values(sets, values_file)))


def run_expand(path: str, limit: int, outputs_file: str | None, given: Sequence[Given] = ()) -> int:
    results = list(check_workloads([path], given=given))
    loaded = results[0][1] if results else None
    problems = [d for _, _, diagnostics in results for d in diagnostics]
    if problems or loaded is None:
        raise Exit(EXIT_INVALID, "\n".join(map(str, problems)))
    json.dump(expanded_job(loaded, storage_context(outputs_file), limit), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


def expanded_job(loaded: LoadedWorkload, ctx: StorageContext, limit: int) -> dict:
    """The job `expand` prints: its id, pool, task count, parameter values and the first `limit` Batch task
    bodies (the merge task depends on every task only when all of them are shown)."""
    from itertools import islice

    from bigcompute.workload import iter_tasks
    from bigcompute.workload.inputs import file_digest
    from bigcompute.workload.wire import Staging, job_id, merge_dependencies, task_body

    wl, files = loaded.workload, loaded.files
    digests = {f.relpath: file_digest(f.path) for f in files}
    job = job_id(wl, digests)
    total = count_tasks(wl, files)
    merge_deps = None
    if wl.merge and limit >= total:
        merge_deps = merge_dependencies(t.id for t in iter_tasks(wl, files) if not t.is_merge)
    stage = Staging.of(wl, digests, files)
    tasks = [task_body(t, wl, job, ctx, digests, merge_deps, stage) for t in islice(iter_tasks(wl, files), limit)]
    body = {"jobId": job, "poolName": wl.pool, "taskCount": total}
    if stage.active:  # what each node stages once for every task (see workload.staging)
        body["jobPreparationTask"] = {"resourceFiles": stage.prep_resources(ctx)}
    body["tasks"] = tasks
    if wl.parameters:
        body["parameters"] = dict(wl.parameters)
    return body


def storage_context(outputs_file: str | None):
    """Container URLs and pool identity from a stack outputs file (default: the local target's)."""
    from bigcompute.runner.errors import DeployError
    from bigcompute.runner.target import from_outputs

    path = Path(outputs_file) if outputs_file else _local_outputs()
    if path is not None and path.is_file():
        try:
            target = from_outputs(json.loads(path.read_text()), "local", "", str(path))
        except (DeployError, ValueError) as e:
            raise Exit(EXIT_INVALID, f"{path}: {e}") from None
        return StorageContext(target.inputs_url, target.outputs_url, target.identity_resource_id)
    if outputs_file:
        raise Exit(EXIT_INVALID, f"{outputs_file}: no such outputs file")
    example = "https://<storage-account>.blob.core.windows.net"
    return StorageContext(f"{example}/inputs", f"{example}/outputs", "<pool identity resource id>")


def _local_outputs() -> Path | None:
    """The local target's outputs file of the project the user stands in (None outside any project)."""
    from bigcompute.project import NoProject, local_dir

    try:
        return local_dir() / "outputs.json"
    except NoProject:
        return None
