"""`bigcompute ARGS` as a separate process that a test can kill -9, without paying the interpreter's start and
the CLI's imports (about 1.5 s of CPU) at every spawn: each run is forked from a server process that imported
the CLI once (multiprocessing's forkserver, started on first use). The child is a real process in its own
session, like `python -m bigcompute` started with start_new_session=True: killed with os.killpg, it dies where
it stood and leaves what it wrote. Its environment is the one given; nothing was run in it before the CLI."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import tempfile
from pathlib import Path

# What `python -m bigcompute apply` imports before it does anything (the CLI loads its commands lazily).
PRELOAD = ["bigcompute.cli.main", "bigcompute.cli.deploy", "tests.runner.cli_process"]
_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(PRELOAD)
# The server imports PRELOAD with a fresh interpreter's sys.path, which on Python 3.11 is not the test process's
# (forkserver.main ignores the sys_path it is given): the repository root must reach it through PYTHONPATH, or a
# server first started from a test's temporary folder cannot import `tests`.
ROOT = str(Path(__file__).resolve().parents[2])


def _ensure_server() -> None:
    from multiprocessing import forkserver

    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, before) if p)
    try:
        forkserver.ensure_running()
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before


def _cli(args: list[str], cwd: str, env: dict[str, str], out: str, err: str) -> None:
    """The child: its own session, folder, environment and output files, then the CLI's own entry point."""
    os.setsid()
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((0, os.devnull), (1, out), (2, err)):
        target = os.open(path, os.O_RDONLY if fd == 0 else os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(target, fd)
        os.close(target)
    from bigcompute.cli.main import cli

    cli.main(args=args, prog_name="bigcompute")  # ends in SystemExit(code), the process's exit code


class CliProcess:
    """The parts of subprocess.Popen/CompletedProcess the kill tests use: pid, poll, wait, returncode, and
    stdout/stderr as text once the process ended."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="bigcompute-cli-"))
        self.stdout = self.stderr = ""
        _ensure_server()
        self._proc = _context.Process(target=_cli, args=(list(args), str(cwd), {**os.environ, **(env or {})},
                                                          str(self._folder / "out"), str(self._folder / "err")))
        self._proc.start()
        self.pid = self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.exitcode  # -N when killed by signal N, as Popen says it

    def poll(self) -> int | None:
        return self.returncode

    def kill(self) -> None:
        """kill -9 its process group. One that ended on its own is left as it is: the server reaps its children
        at once, so there is no zombie to signal as there would be with Popen."""
        if self._proc.is_alive():
            with contextlib.suppress(ProcessLookupError):  # it ended between the check and the kill
                os.killpg(self.pid, signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        self._proc.join(timeout)
        if self._proc.exitcode is None:
            raise TimeoutError(f"bigcompute (pid {self.pid}) still running after {timeout} s")
        if self._folder.exists():
            self.stdout, self.stderr = (_text(self._folder / name) for name in ("out", "err"))
            shutil.rmtree(self._folder)
        return self._proc.exitcode


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""  # killed before it opened its output files


def run_cli_process(args: list[str], cwd: Path, env: dict[str, str] | None = None,
                    timeout: float = 600) -> CliProcess:
    """The CLI run to its end in its own process (what subprocess.run gives, stdout/stderr as text)."""
    proc = CliProcess(args, cwd, env)
    try:
        proc.wait(timeout)
    except TimeoutError:
        proc.kill()
        proc.wait()
        raise
    return proc
