"""Deliberate bugs, one at a time, and the tests that must catch each: `make mutations` (issue 21).

Each mutation replaces one exact snippet of the source, found wherever it lives under its glob (a module that
moves keeps its mutation), in a temporary copy of the tree; runs the tests named for it there; and reports the
first test that failed (killed) or that all passed (survived). The working tree is never touched. A snippet the
source no longer has is reported as such: update the mutation with the code it was about.

    python -m bench.mutations [--only TEXT] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINKED = (".venv", "node_modules")  # large, read-only for the tests: linked into the copy, not copied


@dataclass(frozen=True)
class Mutation:
    bug: str
    old: str
    new: str
    tests: tuple[str, ...]
    where: str = "bigcompute/**/*.py"


MUTATIONS = (
    Mutation("a TaskExists answer counts as added without comparing the existing task's definition",
             "    if spec_key(existing.as_dict()) == spec_key(task):\n",
             "    if True:\n",
             ("tests/runner/test_runner_submit.py",)),
    Mutation("a re-run treats a task that exists with a different definition as already there",
             "    if have != spec_key(task):\n",
             "    if False:\n",
             ("tests/runner/test_runner_submit.py",)),
    Mutation("the Batch account identity gets Owner on storage instead of Storage Blob Data Contributor",
             "roles.role_definition_id(args.subscription, roles.STORAGE_BLOB_DATA_CONTRIBUTOR)",
             'roles.role_definition_id(args.subscription, "8e3af657-a8ff-443c-a75c-2fe8c4bcb635")',
             ("tests/infra/test_infra_roles.py",), where="components/batch_account.py"),
    Mutation("the drop fault is never injected",
             '        if fault == "drop":\n            await self._handle_then_drop(scope, receive, send)\n'
             "            return\n",
             "",
             ("tests/emulator/test_emulator_faults.py",)),
    Mutation("the storage account key is written into the job's metadata",
             "        clients.batch.create_job(job_model(wl, plan.job_id, pool_id, plan.spec, clients.target.stack))\n",
             "        model = job_model(wl, plan.job_id, pool_id, plan.spec, clients.target.stack)\n"
             "        model.metadata.append(batch.BatchMetadataItem(name='storage', value=clients.target.storage_key))\n"
             "        clients.batch.create_job(model)\n",
             ("tests/security/test_security_secrets.py",)),
    Mutation("start, preparation and release tasks are retried one time too few",
             '(tries != -1 and info["retryCount"] >= tries)',
             '(tries != -1 and info["retryCount"] >= tries - 1)',
             ("tests/emulator/test_emulator_process.py::test_start_task_is_tried_retry_count_plus_one_times",
              "tests/emulator/test_emulator_process.py::test_preparation_task_is_tried_retry_count_plus_one_times")),
    Mutation("on a resumed apply, the merge depends only on the tasks added in that run",
             "            deps.add(task.id)\n",
             "            if task.id.lower() not in known:\n                deps.add(task.id)\n",
             ("tests/runner/test_runner_submit.py",)),
    Mutation("an unsubmitted job is never topped up on resume",
             "if existed is not None and existed.submitted:",
             "if existed is not None:",
             ("tests/runner/test_runner_resume.py::"
              "test_kill_at_every_phase_in_turn_then_rerun_equals_an_uninterrupted_run",)),
    Mutation("the emulator ignores job priority",
             '"ORDER BY priority DESC, rowid"',
             '"ORDER BY rowid"',
             ("tests/emulator/test_emulator_process.py::test_a_higher_priority_jobs_tasks_run_first",)),
    Mutation("downloads accept a path with backslashes",
             ' or "\\\\" in relative or ',
             " or ",
             ("tests/runner/test_runner_safety.py",)),
    Mutation("`local down` signals a process that reused a recorded PID",
             "        elif records.alive(pid):\n",
             "        elif records.alive(pid):\n            records.terminate(pid)\n",
             ("tests/emulator/test_emulator_local_cli.py::test_a_stale_pid_is_never_signalled",)),
)


@dataclass(frozen=True)
class Outcome:
    verdict: str  # killed | SURVIVED | not applied | error | timeout
    by: str
    seconds: float


def copy_tree(dest: Path) -> Path:
    """The checkout's files (tracked, and new ones not ignored) as they are on disk, the large folders linked."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, names):
        src = REPO / name
        if src.is_file() and not name.startswith(LINKED):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    for name in LINKED:
        if (REPO / name).exists():
            (dest / name).symlink_to((REPO / name).resolve())
    return dest


def locate(root: Path, m: Mutation) -> Path | None:
    found = [p for p in sorted(root.glob(m.where)) if m.old in p.read_text()]
    if len(found) == 1 and found[0].read_text().count(m.old) == 1:
        return found[0]
    return None


def run(root: Path, m: Mutation, timeout: float) -> Outcome:
    path = locate(root, m)
    if path is None:
        return Outcome("not applied", f"snippet not found once under {m.where}", 0.0)
    original = path.read_text()
    path.write_text(original.replace(m.old, m.new))
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-n", "0",
                               *m.tests], cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Outcome("timeout", f"no verdict in {timeout:.0f} s", time.monotonic() - start)
    finally:
        path.write_text(original)
    seconds = time.monotonic() - start
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, re.MULTILINE)
    if proc.returncode == 0:
        return Outcome("SURVIVED", "", seconds)
    if proc.returncode == 1 and failed:
        return Outcome("killed", failed[0], seconds)
    return Outcome("error", f"pytest exit {proc.returncode}: {proc.stdout.strip().splitlines()[-1:]}", seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mutations", description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="run the mutations whose bug contains this text")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per mutation")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if args.only.lower() in m.bug.lower()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bigcompute-mutations-") as tmp:
        root = copy_tree(Path(tmp))
        for m in chosen:
            outcome = run(root, m, args.timeout)
            rows.append((m.bug, outcome))
            print(f"{outcome.verdict:>11}  {outcome.seconds:6.1f} s  {m.bug}  {outcome.by}", flush=True)
    print("\n| deliberate bug | verdict | killed by | time |\n|---|---|---|---|")
    for bug, o in rows:
        print(f"| {bug} | {o.verdict} | {o.by.replace('|', '/')} | {o.seconds:.0f} s |")
    return 0 if all(o.verdict == "killed" for _, o in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
