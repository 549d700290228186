"""Executors run one task attempt on a node. Injected into the state so tests can skip real processes."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bigcompute.emulator import storage


@dataclass
class TaskRun:
    """Everything an executor needs for one attempt; built by the scheduler from the task and node."""

    kind: str  # task | prep | release | start
    command_line: str
    task_dir: Path
    env: dict[str, str]
    max_wall_clock: float | None = None
    resource_files: list[dict[str, Any]] = field(default_factory=list)
    output_files: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ExecResult:
    exit_code: int | None
    failure: dict[str, Any] | None = None  # failureInfo when the attempt failed for a non-exit-code reason
    phase: str = "exit"  # exit | preprocessing | fileupload | timeout | killed


class RunHandle:
    """Lets another thread stop a running attempt: `kill()` ends the whole process group."""

    def __init__(self) -> None:
        self.killed = threading.Event()
        self.pid: int | None = None

    def kill(self) -> None:
        self.killed.set()
        if self.pid is not None:
            _killpg(self.pid)


class Executor(Protocol):
    def run(self, run: TaskRun, handle: RunHandle) -> ExecResult: ...


def _killpg(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _failure(code: str, message: str, category: str = "usererror") -> dict[str, Any]:
    return {"category": category, "code": code, "message": message,
            "details": [{"name": "Message", "value": message}]}


class InstantExecutor:
    """Completes attempts without a process. `exit N` anywhere in the command line sets the exit code."""

    _EXIT = re.compile(r"\bexit\s+(\d+)")

    def __init__(self, exit_code: int = 0) -> None:
        self.exit_code = exit_code

    def run(self, run: TaskRun, handle: RunHandle) -> ExecResult:
        m = self._EXIT.search(run.command_line)
        return ExecResult(int(m.group(1)) if m else self.exit_code)


class SubprocessExecutor:
    """Runs the command line as a real process (not under a shell, as Batch does), in its own session so a
    timeout or terminate kills everything it started."""

    def __init__(self, blob_endpoint: str | None = None) -> None:
        self.blob_endpoint = blob_endpoint

    def run(self, run: TaskRun, handle: RunHandle) -> ExecResult:
        wd = run.task_dir / "wd"
        wd.mkdir(parents=True, exist_ok=True)
        try:
            storage.download_resource_files(run.resource_files, wd, self.blob_endpoint)
        except Exception as exc:  # any download problem is Batch's preprocessing error
            return ExecResult(None, _failure("ResourceFileDownloadError", f"Resource file download failed: {exc}"),
                              "preprocessing")
        result = self._spawn(run, wd, handle)
        if run.output_files and result.phase in ("exit", "timeout"):
            try:
                storage.upload_output_files(run.output_files, wd, run.env, result.exit_code)
            except Exception as exc:
                return ExecResult(result.exit_code,
                                  _failure("FileUploadError", f"Output file upload failed: {exc}"), "fileupload")
        return result

    def _spawn(self, run: TaskRun, wd: Path, handle: RunHandle) -> ExecResult:
        try:
            argv = shlex.split(run.command_line)
        except ValueError as exc:
            return ExecResult(None, _failure("CommandLineParseError", str(exc)), "preprocessing")
        with open(run.task_dir / "stdout.txt", "wb") as out, open(run.task_dir / "stderr.txt", "wb") as err:
            try:
                proc = subprocess.Popen(argv, cwd=wd, env=run.env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
            except OSError as exc:
                return ExecResult(None, _failure("CommandProgramNotFound", f"The task process could not be "
                                                 f"started: {exc.strerror}: {argv[0] if argv else ''}"),
                                  "preprocessing")
            handle.pid = proc.pid
            if handle.killed.is_set():
                _killpg(proc.pid)
            try:
                code = proc.wait(timeout=run.max_wall_clock)
            except subprocess.TimeoutExpired:
                _killpg(proc.pid)
                proc.wait()
                return ExecResult(128 + signal.SIGKILL, _failure(
                    "TaskEnded", "The task exceeded its maximum wall clock time and was ended."), "timeout")
            finally:
                _killpg(proc.pid)  # leftovers of the group (background children) go with the task
        if handle.killed.is_set():
            return ExecResult(128 + signal.SIGKILL, None, "killed")
        # Batch reports a signal death as 128+N on Linux nodes; Popen gives -N.
        return ExecResult(128 - code if code < 0 else code)
