"""How a run ended, for people: each watched job's outcome (only the failed tasks, with their stderr tails), a
watch that timed out, the outputs downloaded. Returns the exit code the outcome means."""

from __future__ import annotations

from typing import Any

from bigcompute.cli.exit import EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT
from bigcompute.cli.terminal import Terminal
from bigcompute.runner.api import Downloaded


def watch_code(outcome: Any) -> int:
    if outcome is None:
        return EXIT_OK
    if outcome.timed_out:
        return EXIT_TIMEOUT
    return EXIT_FAILED if outcome.failed else EXIT_OK


def render_watch(term: Terminal, outcome: Any, reattach: str) -> int:
    """The outcome of a watch (runner.watcher.WatchOutcome), and its exit code."""
    if outcome.timed_out:
        for name, job, p in outcome.timed_out:
            counts = f": {p.active} active, {p.running} running, {p.completed} done" if p else ""
            term.error(f"{name}: job {job} is still running after {outcome.timeout:g} s{counts}")
        term.error(f"the jobs keep running on the target; watch them again with `{reattach}`")
        return EXIT_TIMEOUT
    for job in outcome.jobs:
        _render_job(term, job)
    return watch_code(outcome)


def _render_job(term: Terminal, j: Any) -> None:
    p = j.progress
    if j.succeeded:
        reused = f", {j.reused:,} more reused from earlier jobs" if j.reused else ""
        term.success(f"{j.workload}: all {p.succeeded:,} tasks succeeded{reused} (job {j.job})")
        return
    stopped = j.stopped
    term.error(f"{j.workload}: {p.failed - len(stopped):,} of {j.runs:,} tasks failed"
               + (f", {len(stopped)} stopped when the job ended" if stopped else "")
               + (f", {j.never_ran} never ran" if j.never_ran else "") + f" (job {j.job})")
    for f in (f for f in j.failed if not f.ended):
        term.error(f"  task {f.id}: exit code {f.exit_code} — {f.failure}")
        term.quote("\n".join(f.stderr_tail.rstrip().splitlines()[-10:]), indent="      ")
    if stopped:
        term.error(f"  {len(stopped)} task(s) were stopped when the job ended: {names(stopped)}")
    if p.ended_by_failure:
        term.error("  a failed task ended the job (its merge could never run): Batch terminated it "
                   f"(terminateReason {p.terminate_reason}), so it no longer holds an active-job quota slot; "
                   f"`bigcompute retry {j.workload}` reruns the tasks that did not succeed")
    if j.more_failed:
        term.error(f"  … and {j.more_failed} more failed tasks (`bigcompute tasks {j.workload} --state failed`, "
                   f"`bigcompute logs {j.workload} TASK --stderr`)")
    if j.blocked:
        term.error(f"  {len(j.blocked)} task(s) never ran because a task they depend on failed: {names(j.blocked)}")


def names(ids: Any) -> str:
    ids = list(ids)
    return ", ".join(ids[:10]) + (" …" if len(ids) > 10 else "")


def render_download(term: Terminal, d: Downloaded) -> None:
    if d.removed:
        term.step(f"{d.workload}: removed {len(d.removed)} file(s) of an earlier job that job {d.job} does not "
                  f"have: {', '.join(d.removed)}")
    term.success(f"{d.workload}: {d.files} output files of job {d.job} in {d.folder}/ ({d.fetched} downloaded, "
                 f"{d.files - d.fetched} already there), each checked against its SHA-256")
