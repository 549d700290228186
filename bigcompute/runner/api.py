"""The runner's public interface: every command a front end offers (plan, apply, watch, retry, status, pools, tasks,
history, logs, download, delete, doctor, report), as methods of one `Runner` that return plain results
(runner.results) and tell what they do through events (runner.events).

A front end imports this module and nothing else of the runner, and no Azure SDK: the errors it must tell apart
are the ones below (an SDK's refusal or a connection that fails are turned into them here). Importing it is light:
the SDKs load when a command runs, so `validate` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from bigcompute.project import NoProject
from bigcompute.runner.errors import DeployError, InvalidInput, TargetLost
from bigcompute.runner.events import (
    OK,
    STEP,
    WARN,
    Event,
    Listener,
    Message,
    Phase,
    Polled,
    Submitting,
    TasksAdded,
    Waiting,
    Watching,
    ignore,
)
from bigcompute.runner.options import WatchOptions
from bigcompute.runner.results import (
    ApplyResult,
    Downloaded,
    HistoryResult,
    LocalContents,
    LogView,
    PlannedWorkload,
    PlanResult,
    PruneCandidate,
    Removal,
    RetryResult,
    Submitted,
    TasksResult,
)
from bigcompute.runner.target import TargetArgs

if TYPE_CHECKING:
    from bigcompute.runner.clients import Clients
    from bigcompute.runner.plan import Plan, WorkloadPlan
    from bigcompute.runner.watcher import WatchOutcome
    from bigcompute.workload.parameters import Given

__all__ = [
    # the runner, its options, and what needs no runner
    "Runner", "TargetArgs", "WatchOptions", "Approve", "local_contents", "storage_context", "translated",
    # the errors a front end tells apart
    "DeployError", "InvalidInput", "NoProject", "NotRetryable", "Refused", "TargetLost",
    # events (runner.events) and results (runner.results)
    "Event", "Listener", "Message", "Phase", "Polled", "Submitting", "TasksAdded", "Waiting", "Watching",
    "OK", "STEP", "WARN", "ApplyResult", "Downloaded", "HistoryResult", "LocalContents", "LogView",
    "PlannedWorkload", "PlanResult", "PruneCandidate", "Removal", "RetryResult", "Submitted", "TasksResult",
]


class Refused(DeployError):
    """The target refused the credentials (401/403): the sentence says which identity lacks which role."""


class NotRetryable(DeployError):
    """`retry` cannot do what was asked (a task that did not fail, --task on an ended job): invalid input."""


Approve = Callable[[Removal], bool]  # shown what would be removed: may it be? (False: nothing changes)


@contextmanager
def translated() -> Iterator[None]:
    """SDK errors a user must act on, as the runner's own: a refusal of the credentials, a target that stopped
    answering after the SDK's retries. Every other HTTP error stays what it is (a bug to see whole)."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    from bigcompute.runner.retry import NotRetryable as RetryRefused

    try:
        yield
    except RetryRefused as e:
        raise NotRetryable(str(e)) from None
    except HttpResponseError as e:
        if e.status_code not in (401, 403):
            raise
        from bigcompute.runner.refusals import refusal_message

        raise Refused(refusal_message(e)) from None
    except (ServiceRequestError, ServiceResponseError) as e:
        from bigcompute.runner.reach import connection_failure

        raise TargetLost(connection_failure(e, _local_endpoints())) from None


def _local_endpoints() -> dict[str, str]:
    """The local target's endpoints, to name the service that stopped answering (none for Azure)."""
    from bigcompute.runner.target import local_target

    try:
        target = local_target()
    except (DeployError, NoProject):
        return {}
    return {"storage": target.blob_endpoint, "the Batch emulator": target.batch_endpoint} if target else {}


class Runner:
    """The runner's commands on one target (`TargetArgs`: local or azure, stack, outputs file). `listener` gets the
    events of every command (runner.events); results come back as return values."""

    def __init__(self, target: TargetArgs, listener: Listener = ignore, max_tasks: int | None = None):
        self.target = target
        self.emit = listener
        self.max_tasks = max_tasks  # the largest number of tasks a workload may expand to (None: the default)

    # --- plumbing ------------------------------------------------------------------------------------------
    def _limit(self) -> dict[str, int]:
        return {} if self.max_tasks is None else {"max_tasks": self.max_tasks}

    def _say(self, text: str, level: str = STEP) -> None:
        self.emit(Message(text, level))

    @contextmanager
    def _planned(self, paths: Sequence[str], given: Sequence[Given] = (),
                 scan_tasks: bool = True) -> Iterator[tuple[Clients, Plan]]:
        """Clients and the plan of `paths` (everything validated before the first side effect), closed after.
        `scan_tasks=False` for reads: the per-task checks are apply's (a 1M-task sweep would spend seconds on them)."""
        from bigcompute.runner.plan import make_plan
        from bigcompute.runner.session import load_inputs, open_clients

        with translated():
            stack, loaded = load_inputs(paths, self.target.stack, given, scan_tasks=scan_tasks, **self._limit())
            clients = open_clients(self.target)
            try:
                yield clients, make_plan(clients, loaded, stack.batch.active_job_quota, _whole_folder(paths),
                                         **self._limit())
            finally:
                clients.close()

    @contextmanager
    def _workload(self, workload: str) -> Iterator[tuple[Clients, Plan, WorkloadPlan]]:
        """The plan of the one workload named (by its name, or its file), with clients."""
        with self._planned(_paths_of(workload)) as (clients, plan):
            yield clients, plan, _find(plan, workload)

    # --- plan and apply ------------------------------------------------------------------------------------
    def plan(self, paths: Sequence[str], given: Sequence[Given] = ()) -> PlanResult:
        """What apply would do, changing nothing."""
        from bigcompute.config import load_stack
        from bigcompute.runner.explain import explain

        with self._planned(paths, given) as (clients, plan):
            return _plan_result(plan, explain(clients, plan, load_stack(self.target.stack)))

    def apply(self, paths: Sequence[str], given: Sequence[Given] = (), *, wait: bool = False,
              watch: WatchOptions | None = None, download: Path | None = None, outputs: Path | None = None,
              prune: bool = False, force: bool = False, approve: Approve = lambda removal: True,
              report: bool = False, webhook: str | None = None) -> ApplyResult:
        """Jobs and tasks for the workloads (idempotent). `wait`: watch them to the end, then download each
        workload's `download:` outputs into `outputs` (or everything into `download`). `prune`: then remove the
        superseded jobs `approve` accepted (it is shown them before any side effect). With `wait`, `report`: the
        result carries each run's report; `webhook`: POST each run's summary there once it ended."""
        from bigcompute.runner.prune import remove

        with self._planned(paths, given) as (clients, plan):
            scheduled = [wp.name for wp in plan.workloads if wp.loaded.workload.schedule]
            if wait and scheduled:  # refused before anything is created
                raise DeployError(f"--wait cannot follow {', '.join(scheduled)}: a scheduled workload runs on its "
                                  "schedule; follow its runs with `bigcompute status`")
            if plan.new_jobs > plan.headroom:
                raise DeployError(f"this apply creates {plan.new_jobs} jobs but the account has room for "
                                  f"{plan.headroom} more active jobs ({plan.active_jobs} of {plan.quota} in use); "
                                  "delete finished jobs with --prune or raise the quota")
            doomed = self._prune(plan, force, approve) if prune else []
            self._say(f"{plan.active_jobs} of {plan.quota} active jobs in use")
            self.emit(Phase("submitting"))
            submitted = tuple(self._submit(clients, wp) for wp in plan.workloads)
            outcome, downloads, reports = None, (), ()
            if wait:
                outcome = self._watch(clients, plan.workloads, watch)
                if outcome.timed_out:
                    return ApplyResult(submitted, outcome, active_jobs=plan.active_jobs, quota=plan.quota)
                downloads = self._collect(clients, plan.workloads, download, outputs)
                if report or webhook:
                    reports = self._reports(clients, plan.workloads, webhook)
            elif download:
                self._say("--download needs --wait: outputs exist only once the job completes", WARN)
            if doomed:
                self.emit(Phase("pruning"))
            with translated():
                removed = tuple(remove(clients, doomed, reason="pruned by bigcompute apply"))
            return ApplyResult(submitted, outcome, downloads, removed, plan.active_jobs, plan.quota, reports)

    def _approved(self, removal, force: bool, approve: Approve) -> list:
        """The candidates to remove once `approve`, shown them, said yes (no approval asked when there are none)."""
        doomed = removal.doomed(force)
        shown = Removal(tuple(map(_candidate, doomed)), tuple(map(_candidate, removal.skipped(force))))
        return doomed if approve(shown) else []

    def _prune(self, plan: Plan, force: bool, approve: Approve) -> list:
        if plan.prune.unscoped:
            self._say(_unscoped_note(plan.prune.unscoped), WARN)
        if not plan.prune.candidates:
            self._say("nothing to prune")
            return []
        return self._approved(plan.prune, force, approve)

    def _submit(self, clients: Clients, wp: WorkloadPlan) -> Submitted:
        from bigcompute.runner.apply import Hooks, apply_workload

        if wp.status == "unchanged":
            self._say(f"{wp.name}: job {wp.job_id} is up to date", OK)
            return Submitted(wp.name, wp.job_id, True)
        self.emit(Submitting(wp.name, wp.job_id, wp.runs))
        hooks = Hooks(step=lambda m: self._say(f"{wp.name}: {m}"), added=lambda n: self.emit(TasksAdded(wp.name, n)))
        with translated():
            report = apply_workload(clients, wp, hooks)
        if wp.loaded.workload.schedule is not None:
            self._say(f"{wp.name}: job schedule {wp.job_id} in place: each run adds the workload's {wp.runs:,} tasks "
                      "(`bigcompute status` lists the runs)", OK)
            return Submitted(wp.name, wp.job_id, False, report.added, report.existing)
        self._say(f"{wp.name}: job {wp.job_id} submitted ({report.added:,} tasks added, {report.existing:,} already "
                  "there)", OK)
        return Submitted(wp.name, wp.job_id, False, report.added, report.existing)

    def _watch(self, clients: Clients, workloads: tuple[WorkloadPlan, ...],
               options: WatchOptions | None) -> WatchOutcome:
        from bigcompute.runner.watcher import watch_jobs

        with translated():
            return watch_jobs(clients, workloads, self.emit, options or WatchOptions())

    def _collect(self, clients: Clients, workloads: tuple[WorkloadPlan, ...], everything_to: Path | None,
                 outputs: Path | None) -> tuple[Downloaded, ...]:
        """After a watch: every job gets its output manifest; outputs go into `everything_to` (all of them) or
        `outputs` (the workload's `download:` list)."""
        from bigcompute.runner.download import write_manifest

        self.emit(Phase("downloading"))
        done = []
        with translated():
            for wp in workloads:
                body = write_manifest(clients.container("outputs"), wp.job_id)
                folder = everything_to or (outputs if wp.loaded.workload.download else None)
                if folder is not None:
                    done.append(_download(clients, wp, wp.job_id, body, folder,
                                          everything=everything_to is not None and not wp.loaded.workload.download))
        return tuple(done)

    def watch(self, paths: Sequence[str], options: WatchOptions | None = None) -> WatchOutcome:
        """Watch the current jobs of the workloads to their end (nothing is submitted)."""
        with self._planned(paths) as (clients, plan):
            missing = [wp.name for wp in plan.workloads if wp.status in ("new", "changed")]
            if missing:
                raise DeployError(f"no job for the current definition of {', '.join(missing)}: run `bigcompute apply`")
            return self._watch(clients, plan.workloads, options)

    # --- day two -------------------------------------------------------------------------------------------
    def retry(self, workload: str, tasks: Sequence[str] = (), *, wait: bool = False,
              watch: WatchOptions | None = None) -> RetryResult:
        """Run the workload's failed tasks again: reactivated in place while its job is active; once it has ended,
        as the next attempt of the same job, which reuses the outputs of every task that succeeded."""
        from bigcompute.runner.download import write_manifest
        from bigcompute.runner.retry import plan_retry, reactivate

        with self._workload(workload) as (clients, plan, wp), translated():
            retry = plan_retry(clients, wp, plan.jobs_of(wp.name), tuple(tasks))
            if retry.reactivate:
                reactivate(clients, wp.job_id, retry.reactivate)
                self._say(f"{wp.name}: reactivated {len(retry.reactivate)} failed task(s) of job {wp.job_id}: "
                          f"{', '.join(retry.reactivate[:10])}", OK)
                result = RetryResult(wp.name, wp.job_id, "reactivated", tuple(retry.reactivate))
            elif retry.attempt is not None:
                if plan.headroom < 1:
                    raise DeployError(f"the account has no room for another active job ({plan.active_jobs} of "
                                      f"{plan.quota} in use)")
                wp = retry.attempt
                self._say(f"{wp.name}: job {retry.job.id} has ended ({retry.job.state}), and Batch reactivates tasks "
                          f"only in an active job: attempt {wp.attempt} reruns {wp.runs:,} task(s) and reuses "
                          f"{len(wp.reuse):,} that succeeded")
                self.emit(Phase("submitting"))
                result = RetryResult(wp.name, wp.job_id, "attempt", (), retry.job.id, retry.job.state, wp.attempt,
                                     wp.runs, len(wp.reuse), self._submit(clients, wp))
            else:
                self._say(f"{wp.name}: nothing to retry: no task of job {wp.job_id} failed", OK)
                return RetryResult(wp.name, wp.job_id, "nothing")
            if not wait:
                return result
            outcome = self._watch(clients, (wp,), watch)
            if not outcome.timed_out:
                write_manifest(clients.container("outputs"), wp.job_id)
            return replace(result, watch=outcome)

    def status(self, paths: Sequence[str]) -> list:
        """A row per workload (runner.status.WorkloadStatus): job, state, task counts, start, duration."""
        from bigcompute.runner.status import workload_status

        with self._planned(paths, scan_tasks=False) as (clients, plan), translated():
            return workload_status(clients, plan)

    def pools(self) -> list:
        """The ops view of pool sizing (runner.status.PoolStatus), with drift from the stack file."""
        from bigcompute.runner.session import load_inputs, open_clients
        from bigcompute.runner.status import pool_status

        with translated():
            config, _ = load_inputs((), self.target.stack)
            clients = open_clients(self.target)
            try:
                return pool_status(clients, config)
            finally:
                clients.close()

    def tasks(self, workload: str, state: str | None = None, job: str | None = None) -> TasksResult:
        """The tasks of the workload's job (its current one, or `job`), each with the parameters it was expanded
        from; `state`: only those in it (succeeded and failed are read from the result); failures grouped by
        identical error."""
        from bigcompute.runner.tasks import task_rows

        with self._workload(workload) as (clients, plan, wp), translated():
            job_id = _chosen_job(plan, wp, job)
            spec = next((j.spec for j in plan.jobs if j.id == job_id), wp.spec)
            return task_rows(clients, wp, job_id, state, spec)

    def history(self, workload: str) -> HistoryResult:
        """Every job of the workload from this repository and stack, superseded ones too, and the jobs Batch no
        longer has whose outputs storage still holds (until the stack's lifecycle rule deletes them)."""
        from bigcompute.config import load_stack
        from bigcompute.runner.tasks import job_history

        with self._workload(workload) as (clients, plan, wp), translated():
            days = load_stack(self.target.stack).storage.output_retention_days if self.target.target == "azure" \
                else None  # Azurite runs no lifecycle rule: local outputs stay until `local down --purge`
            return job_history(clients, plan, wp, days)

    def logs(self, workload: str, task: str | None = None, stream: str = "stdout.txt", *, follow: bool = False,
             tail: int | None = None, job: str | None = None) -> LogView:
        """A task's stdout or stderr (TASK defaults to the first failed task, else the merge, else the first),
        from the workload's current job or `job`. Its `chunks` read lazily, and close the clients at the end."""
        from bigcompute.runner import logs

        opened = ExitStack()
        try:
            clients, plan, wp = opened.enter_context(self._workload(workload))
            with translated():
                job_id = _chosen_job(plan, wp, job)
                task_id = task or logs.default_task(clients, job_id)
        except BaseException:
            opened.close()
            raise

        def chunks() -> Iterator[str]:
            with opened, translated():
                yield from logs.read(clients, job_id, task_id, stream, follow, tail)
        return LogView(wp.name, job_id, task_id, stream.removesuffix(".txt"), chunks())

    def download(self, workload: str, folder: Path, *, everything: bool = False,
                 job: str | None = None) -> Downloaded:
        """The outputs of the workload's job (its current one, or `job`: any job in its history, deleted ones
        too while storage keeps their outputs) into FOLDER/<workload>/, using the job's output manifest."""
        from bigcompute.runner.download import read_manifest

        with self._workload(workload) as (clients, plan, wp), translated():
            job_id = _chosen_job(plan, wp, job, stored=clients.container("outputs"))
            if job_id != wp.job_id and job is None:
                self._say(f"{wp.name}: downloading from {job_id}, the job of an earlier spec", WARN)
            body = read_manifest(clients.container("outputs"), job_id)
            return _download(clients, wp, job_id, body, folder, everything or not wp.loaded.workload.download)

    def delete(self, workload: str, *, force: bool = False, approve: Approve = lambda removal: True) -> list[str]:
        """Terminate and delete the workload's jobs from this repository and stack (and, named apart, those that
        predate that record), once `approve` said yes; one sentence per job."""
        from bigcompute.runner.prune import remove, workload_jobs

        with self._planned(_all_workloads()) as (clients, plan), translated():
            name = _find(plan, workload).name if Path(workload).is_file() else workload
            removal = workload_jobs(plan.jobs, name, plan.scope)
            if not removal.candidates:
                self._say(f"workload {name} has no jobs from this repository on stack {plan.scope.stack}", WARN)
                return []
            doomed = self._approved(removal, force, approve)
            self.emit(Phase("pruning"))
            return list(remove(clients, doomed, reason="deleted with bigcompute delete"))

    def report(self, workload: str, job: str | None = None):
        """What a run did (runner.report.RunReport): each task on its node's timeline with its duration and result,
        failures grouped, the nodes' busy time and its cost at the stack's prices."""
        from bigcompute.config import load_stack
        from bigcompute.runner.report import run_report

        with self._workload(workload) as (clients, plan, wp), translated():
            return run_report(clients, wp, _chosen_job(plan, wp, job), load_stack(self.target.stack))

    def _reports(self, clients: Clients, workloads: tuple[WorkloadPlan, ...], webhook: str | None) -> tuple:
        """Each run's report; with `webhook`, its summary POSTed there. A webhook that fails is said, not fatal: the
        run's own outcome stands."""
        from bigcompute.config import load_stack
        from bigcompute.runner.report import run_report, summary
        from bigcompute.runner.webhook import post

        stack = load_stack(self.target.stack)
        with translated():
            reports = tuple(run_report(clients, wp, wp.job_id, stack) for wp in workloads)
        for run in reports if webhook else ():
            try:
                self._say(post(webhook, summary(run)))
            except DeployError as e:
                self._say(str(e), WARN)
        return reports

    # --- the target ----------------------------------------------------------------------------------------
    def doctor(self):
        """Why nodes are unusable or nothing runs (runner.doctor.DoctorReport); an invalid stack: InvalidInput."""
        from bigcompute.runner.doctor import diagnose
        from bigcompute.runner.session import load_inputs

        with translated():
            stack, _ = load_inputs((), self.target.stack)
            return diagnose(stack, self.target.target, self.target.outputs)

    def pool_history(self, pool: str, since=None):
        """What Batch knows of a pool's recent past (runner.history.PoolHistory), for the autoscale simulator."""
        from bigcompute.runner.history import pool_history
        from bigcompute.runner.session import open_clients

        with translated():
            clients = open_clients(self.target)
            try:
                return pool_history(clients.batch, clients.target.pool_id(pool), since)
            finally:
                clients.close()


# --- without a runner: the local target's contents, the storage URLs `expand` prints ---------------------------
def local_contents(emulator_url: str, credentials: dict[str, str]) -> LocalContents:
    """The pools and jobs of the running local target (`local status`)."""
    from azure.batch import BatchClient
    from azure.core.credentials import AzureNamedKeyCredential

    from bigcompute.runner.jobs import wire

    client = BatchClient(emulator_url, AzureNamedKeyCredential(credentials["batchAccountName"],
                                                               credentials["batchAccountKey"]))
    with translated():
        pools = []
        for pool in client.list_pools():
            nodes = list(client.list_nodes(pool.id))
            pools.append({"id": pool.id, "allocation": wire(pool.allocation_state), "nodes": len(nodes),
                          "states": sorted({wire(n.state) for n in nodes}), "slots": pool.task_slots_per_node})
        jobs = []
        for job in client.list_jobs():
            c = client.get_job_task_counts(job.id).task_counts
            jobs.append({"id": job.id, "state": wire(job.state), "active": c.active, "running": c.running,
                         "succeeded": c.succeeded, "failed": c.failed})
    client.close()
    return LocalContents(tuple(pools), tuple(jobs))


def storage_context(outputs_file: Path):
    """The container URLs and pool identity a stack outputs file names (workload.wire.StorageContext)."""
    import json

    from bigcompute.runner.target import from_outputs
    from bigcompute.workload.wire import StorageContext

    try:
        target = from_outputs(json.loads(outputs_file.read_text()), "local", "", str(outputs_file))
    except ValueError as e:
        raise DeployError(f"{outputs_file}: {e}") from None
    return StorageContext(target.inputs_url, target.outputs_url, target.identity_resource_id)


# --- helpers ---------------------------------------------------------------------------------------------------
def _all_workloads() -> tuple[str, ...]:
    from bigcompute.project import find_root, shown, workloads_dir

    return (shown(workloads_dir(find_root())),)


def _paths_of(workload: str) -> tuple[str, ...]:
    """A workload named by its file: that file alone; by its name: the project's workloads folder."""
    return (workload,) if Path(workload).is_file() else _all_workloads()


def _whole_folder(paths: Sequence[str]) -> bool:
    """Whether the workloads folder itself is applied (not some of its files): only then is a workload missing
    from it a removed one."""
    from bigcompute.project import find_root, workloads_dir

    try:
        folder = workloads_dir(find_root())
    except NoProject:
        return False
    return any(Path(p).is_dir() and Path(p).resolve() == folder for p in paths)


def _find(plan: Plan, name: str) -> WorkloadPlan:
    """The workload called `name`, or the one defined in the file `name` (by its `name:`, not the file's stem)."""
    as_file = Path(name).resolve() if Path(name).is_file() else None
    for wp in plan.workloads:
        if wp.name == name or (as_file is not None and wp.loaded.workload.path.resolve() == as_file):
            return wp
    raise InvalidInput([f"no workload named '{name}' in "
                        f"{', '.join(w.name for w in plan.workloads) or 'workloads/'}"])


def _chosen_job(plan: Plan, wp: WorkloadPlan, job: str | None, stored=None) -> str:
    """`job` when it is one of the workload's jobs (with `stored`, the outputs container: also a deleted job whose
    outputs it still holds); else the job of the current spec, or the latest one when the spec changed since."""
    if wp.loaded.workload.schedule is not None:
        raise DeployError(f"workload {wp.name} runs as a job schedule: each run is a job `<schedule id>:job-<n>`, "
                          "listed by `bigcompute status`; this command reads one job of an unscheduled workload")
    if job is not None:
        known = job == wp.job_id or any(j.id == job and j.workload == wp.name for j in plan.jobs)
        kept = stored is not None and job.startswith(f"{wp.name}-") and _has_outputs(stored, job)
        if known or kept:
            return job
        raise InvalidInput([f"job {job} is not a job of workload {wp.name} that Batch has"
                            + (" or whose outputs storage keeps" if stored is not None else "")
                            + f"; `bigcompute history {wp.name}` lists them"])
    if any(j.id == wp.job_id for j in plan.jobs):
        return wp.job_id
    mine = sorted((j for j in plan.jobs_of(wp.name) if j.creation_time), key=lambda j: j.creation_time)
    if not mine:
        raise DeployError(f"workload {wp.name} has no job yet; run `bigcompute apply`")
    return mine[-1].id


def _has_outputs(outputs, job: str) -> bool:
    return next(iter(outputs.list_blobs(name_starts_with=f"{job}/")), None) is not None


def _download(clients: Clients, wp: WorkloadPlan, job: str, body: dict, folder: Path, everything: bool) -> Downloaded:
    from bigcompute.runner.download import download

    target = folder / wp.name
    done = download(clients.container("outputs"), job, body, target, () if everything else wp.loaded.workload.download)
    return Downloaded(wp.name, job, target, len(done.files), done.fetched, tuple(done.removed), job == wp.job_id)


def _candidate(c) -> PruneCandidate:
    return PruneCandidate(c.job.id, c.job.workload, c.reason, c.job.state, c.active)


def _unscoped_note(unscoped) -> str:
    ids = ", ".join(j.id for j in unscoped)
    return (f"never pruned automatically: {ids} (created before jobs recorded their repository and stack); "
            "remove them with `bigcompute delete WORKLOAD`")


def _plan_result(plan: Plan, explanation) -> PlanResult:
    rows = tuple(PlannedWorkload(
        w.name, w.job_id, w.status, tuple(w.supersedes), w.task_count, w.loaded.workload.pool, len(w.sync.missing),
        w.sync.missing_bytes, len(w.sync.blobs), w.sync.blob_bytes, dict(w.loaded.workload.parameters), len(w.reuse),
        w.reuse.note or None) for w in plan.workloads)
    return PlanResult(rows, plan.active_jobs, plan.quota, plan.new_jobs, tuple(map(_candidate, plan.prune.candidates)),
                      tuple(j.id for j in plan.prune.unscoped), explanation)
