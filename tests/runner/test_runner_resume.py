"""A killed `apply` resumes: kill -9 at every phase boundary, then a re-run whose job, task set and downloaded
outputs equal those of an uninterrupted run. Nothing added twice, nothing lost.

The proof is deterministic: the test arms a kill point (bigcompute/runner/killpoint.py), the apply reports from
inside that phase and waits, the test checks the process is alive and what it had done so far, then kills it.
Each apply resumes from the previous kill and is killed at the next phase (during upload, after upload, after
job creation, after 1 of 2 task collections, after submission, during monitoring, during download); the last
one runs to the end. Every phase, every run, whatever the machine's speed, for the price of about one run.
Kills at seeded random moments come on top."""

from __future__ import annotations

import json
import os
import random
import select
import signal
import textwrap
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from bigcompute.runner.jobs import job_info
from bigcompute.runner.killpoint import ENV as KILL_POINT
from bigcompute.runner.submit import CHUNK
from bigcompute.workload.wire import CHECKSUMS_PATH
from tests.runner.cli_process import CliProcess, run_cli_process
from tests.runner.conftest import STACK, make_target, write_local_files, write_workload

pytestmark = pytest.mark.slow  # started first by `make test` (tests/conftest.py): each test runs apply twice or more

FILES = 3
TASKS = CHUNK + 20  # two task collections, so a kill can land between them


def workload(tasks: int) -> str:
    return f"""\
        inputs: [data/*.txt]
        tasks:
          - id: '{{i}}'
            command: mkdir -p out && wc -l < data/f$(( {{i}} % {FILES} )).txt > out/lines.txt
            sweep: {{i: {{start: 0, stop: {tasks}}}}}
            outputs: [out/lines.txt]
        merge:
          command: cat $BIGCOMPUTE_TASK_OUTPUTS/*/lines.txt | awk '{{s+=$1}} END {{print s}}' > total.txt
          outputs: [total.txt]
        """


def make_repo(root: Path, target) -> Path:
    (root / ".git").mkdir(parents=True)
    (root / "stacks").mkdir()
    (root / "stacks" / "Pulumi.test.yaml").write_text(textwrap.dedent(STACK))
    (root / "workloads" / "data").mkdir(parents=True)
    for i in range(FILES):
        (root / "workloads" / "data" / f"f{i}.txt").write_text("x\n" * (i + 1))
    write_local_files(root, target)
    return root


def apply(root: Path, name: str, background: bool = False, env: dict[str, str] | None = None):
    """`bigcompute apply` in its own process and session (forked from a process that imported the CLI once)."""
    args = ["apply", f"workloads/{name}.yaml", "--stack", "test", "--wait", "--poll-interval", "0.2",
            "--download", "out"]
    return CliProcess(args, root, env) if background else run_cli_process(args, root, env)


def downloaded(root: Path, name: str) -> dict[str, str]:
    """Every downloaded file by path, the manifest reduced to what does not name the job."""
    folder = root / "out" / name
    files = {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*")
             if p.is_file() and p.name != "manifest.json"}
    manifest = json.loads((folder / "manifest.json").read_text())
    files["manifest.json"] = json.dumps(manifest["tasks"], sort_keys=True)
    return files


@pytest.fixture(scope="module")
def resume_target(process_emulator, azurite):
    """Tasks run as real processes, 8 at a time."""
    return make_target(process_emulator, azurite, slots=8)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, resume_target):
    """An uninterrupted run per task count: its duration and downloaded files."""
    runs: dict[int, tuple[float, dict[str, str]]] = {}

    def run(tasks: int) -> tuple[float, dict[str, str]]:
        if tasks not in runs:
            root = make_repo(tmp_path_factory.mktemp("baseline"), resume_target)
            write_workload(root, "base", workload(tasks))
            start = time.monotonic()
            done = apply(root, "base")
            assert done.returncode == 0, done.stderr
            files = downloaded(root, "base")
            assert files["merge/total.txt"] == f"{sum(i % FILES + 1 for i in range(tasks))}\n"
            assert sum(rel.endswith("/lines.txt") for rel in files) == tasks
            runs[tasks] = time.monotonic() - start, files
        return runs[tasks]
    return run


def the_job(clients, name: str):
    jobs = [j for j in clients.batch.list_jobs() if j.id.startswith(f"{name}-")]
    assert len(jobs) <= 1, f"more than one job for {name}: {[j.id for j in jobs]}"
    return jobs[0] if jobs else None


def task_ids(clients, job_id: str) -> list[str]:
    return [t.id for t in clients.batch.list_tasks(job_id, select=["id"], max_results=1000)]


def input_blobs(clients, name: str) -> list[str]:
    return [b.name for b in clients.container("inputs").list_blobs(name_starts_with=f"{name}/")
            if not b.name.startswith(".locks/")]


def assert_converged(root: Path, name: str, clients, tasks: int, expected: dict[str, str]) -> None:
    """The re-run's end state is an uninterrupted run's: outputs, one completed job, each task once, the merge
    after every task, each input uploaded once."""
    assert downloaded(root, name) == expected
    job = the_job(clients, name)
    info = job_info(job)
    assert info.submitted and info.state == "completed"
    ids = task_ids(clients, job.id)
    assert len(ids) == len(set(ids)) == tasks + 1
    merge = clients.batch.get_task(job.id, "merge")
    ranges = [(r.start, r.end) for r in merge.depends_on.task_id_ranges or []]
    assert ranges == [(0, tasks - 1)] and not merge.depends_on.task_ids  # not only the tasks a resume added
    names = input_blobs(clients, name)
    assert len(names) == FILES + 1 and sum(n.endswith(CHECKSUMS_PATH) for n in names) == 1


# --- deterministic: a kill at every phase boundary ---

def uploading(clients, name: str, out: Path) -> None:
    names = input_blobs(clients, name)
    assert 2 <= len(names) <= FILES and not any(n.endswith(CHECKSUMS_PATH) for n in names)
    assert the_job(clients, name) is None


def uploaded(clients, name: str, out: Path) -> None:
    assert len(input_blobs(clients, name)) == FILES + 1 and the_job(clients, name) is None


def job_created(clients, name: str, out: Path) -> None:
    job = the_job(clients, name)
    assert not job_info(job).submitted and task_ids(clients, job.id) == []


def one_collection_added(clients, name: str, out: Path) -> None:
    # The first collection went to the sender before the apply stopped pulling task CHUNK + 1: once it lands,
    # the job holds exactly that collection and nothing more comes.
    job = the_job(clients, name)
    ids = settled(lambda: task_ids(clients, job.id), CHUNK)
    assert sorted(map(int, ids)) == list(range(CHUNK)) and not job_info(job).submitted


def submitted(clients, name: str, out: Path) -> None:
    job = the_job(clients, name)
    assert job_info(job).submitted and len(task_ids(clients, job.id)) == TASKS + 1
    assert not (out / name).exists()


def monitoring(clients, name: str, out: Path) -> None:
    assert job_info(the_job(clients, name)).submitted and not (out / name).exists()


def downloading(clients, name: str, out: Path) -> None:
    files = [p for p in (out / name).rglob("*") if p.is_file()]
    assert 5 <= len(files) < TASKS * 3 and not (out / name / "manifest.json").exists()


def settled(read, count: int, timeout: float = 60) -> list:
    deadline = time.monotonic() + timeout
    while len(value := read()) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(value) == count, f"expected {count}, found {len(value)}"
    return value


# Each stop is reached by an apply resuming from the previous one's kill: (phase, N-th time, state when killed).
STOPS = [("uploading", 2, uploading), ("uploaded", 1, uploaded), ("job-created", 1, job_created),
         ("adding-tasks", CHUNK + 1, one_collection_added), ("submitted", 1, submitted),
         ("monitoring", 2, monitoring), ("downloading", 5, downloading)]


def kill_at(root: Path, name: str, phase: str, nth: int, fifo_path: Path, check: Callable[[], None]) -> None:
    """Run apply until it reports from `phase`; check it is alive there and what it did so far; kill -9 it."""
    os.mkfifo(fifo_path)
    fifo = os.open(fifo_path, os.O_RDWR | os.O_NONBLOCK)  # read-write: no EOF before the apply opens it
    proc = apply(root, name, background=True, env={KILL_POINT: f"{phase}:{nth}:{fifo_path}"})
    try:
        assert wait_for_report(fifo, proc) == f"{phase} {proc.pid}\n"  # the apply itself, where asked
        check()
        assert proc.poll() is None and alive(proc.pid)  # still there, waiting, when killed
    finally:
        proc.kill()
        proc.wait()
        os.close(fifo)
    assert proc.returncode == -signal.SIGKILL


def wait_for_report(fifo: int, proc: CliProcess, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([fifo], [], [], 0.2)[0]:
            return os.read(fifo, 512).decode()
        assert proc.poll() is None, f"apply ended (exit {proc.returncode}) without reaching its kill point"
    pytest.fail("apply did not reach its kill point in time")


def alive(pid: int) -> bool:
    """Running or sleeping, not a zombie (kill(pid, 0) succeeds for those too)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_kill_at_every_phase_in_turn_then_rerun_equals_an_uninterrupted_run(tmp_path, resume_target, clients_for,
                                                                            baseline):
    _, expected = baseline(TASKS)
    root = make_repo(tmp_path / "repo", resume_target)
    name = f"kp-{uuid.uuid4().hex[:6]}"
    write_workload(root, name, workload(TASKS))
    clients = clients_for(resume_target)
    for phase, nth, state in STOPS:
        kill_at(root, name, phase, nth, tmp_path / f"{phase}.fifo", partial(state, clients, name, root / "out"))

    done = apply(root, name)
    assert done.returncode == 0, done.stderr
    assert_converged(root, name, clients, TASKS, expected)


def test_a_kill_point_does_nothing_unless_armed_with_a_fifo(tmp_path, monkeypatch):
    from bigcompute.runner import killpoint

    (tmp_path / "plain-file").write_text("")
    monkeypatch.delenv(KILL_POINT, raising=False)
    killpoint._armed.cache_clear()
    for phase in killpoint.PHASES:
        killpoint.kill_point(phase)  # returns: nothing armed
    for value in (f"uploaded:1:{tmp_path / 'plain-file'}", f"uploaded:1:{tmp_path / 'absent'}",
                  f"somewhere:1:{tmp_path}", "uploaded:0:", "uploaded"):
        monkeypatch.setenv(KILL_POINT, value)
        killpoint._armed.cache_clear()
        with pytest.raises(RuntimeError, match="tests only"):
            killpoint.kill_point("uploaded")
    killpoint._armed.cache_clear()


# --- an extra: kills at seeded random moments ---

RANDOM_TASKS = 40  # a kill anywhere in a run; fewer tasks than the deterministic test, same spread of moments


@pytest.mark.parametrize("seed", range(20))
def test_kill_minus_nine_at_a_random_moment_then_rerun_equals_an_uninterrupted_run(
        tmp_path, resume_target, clients_for, baseline, seed):
    duration, expected = baseline(RANDOM_TASKS)
    root = make_repo(tmp_path, resume_target)
    name = f"rnd-{uuid.uuid4().hex[:6]}"
    write_workload(root, name, workload(RANDOM_TASKS))
    proc = apply(root, name, background=True)
    time.sleep(random.Random(seed).uniform(0.05, duration))  # anywhere from upload to download
    proc.kill()  # unless it had ended already
    proc.wait()

    done = apply(root, name)
    assert done.returncode == 0, done.stderr
    assert_converged(root, name, clients_for(resume_target), RANDOM_TASKS, expected)
