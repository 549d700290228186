"""Executors run one task attempt on a node. Injected into the state so tests can skip real processes."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bigcompute.emulator.compute import instant, storage
from bigcompute.emulator.compute.containers import container_argv
from bigcompute.emulator.compute.isolation import TaskUser
from bigcompute.emulator.compute.node_python import DEFAULT_PACKAGES
from bigcompute.emulator.core.engine import machine_engine


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
    elevated: bool = False  # autoUser elevationLevel admin: runs as the emulator's user, never the task user
    container: dict[str, Any] | None = None  # the task's containerSettings: run in its image (compute.containers)
    # a multi-instance task's coordination command: what it starts in the background runs on until the
    # task ends (its caller kills the group through the RunHandle)
    keep_background: bool = False


@dataclass
class ExecResult:
    exit_code: int | None
    failure: dict[str, Any] | None = None  # failureInfo when the attempt failed for a non-exit-code reason
    phase: str = "exit"  # exit | preprocessing | fileupload | timeout | killed


class _Flag:
    """A one-way flag with Event's set()/is_set(): one per attempt, and nothing ever waits on it."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


class RunHandle:
    """Lets another thread stop a running attempt: `kill()` ends the whole process group."""

    def __init__(self) -> None:
        self.killed = _Flag()
        self.pid: int | None = None

    def kill(self) -> None:
        self.killed.set()
        if self.pid is not None:
            _killpg(self.pid)


class Executor(Protocol):
    def run(self, run: TaskRun, handle: RunHandle) -> ExecResult: ...


# As open(..., "wb"), but never through a link a task (as the task user) left in its folder.
_OUTPUT_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW
_DEVNULL: list[int] = []


def _devnull() -> int:
    """One read-only /dev/null descriptor for every task's stdin (not an open and close per task)."""
    if not _DEVNULL:
        _DEVNULL.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
    return _DEVNULL[0]


def _make_dirs(task_dir: Path, wd: Path) -> None:
    """The task's folder, its `wd` and its (empty) `certs` (AZ_BATCH_CERTIFICATES_DIR) in three calls for
    the usual case (the job's folder exists)."""
    try:
        os.mkdir(task_dir)
        os.mkdir(wd)
        os.mkdir(task_dir / "certs")
    except FileExistsError:
        wd.mkdir(exist_ok=True)
        (task_dir / "certs").mkdir(exist_ok=True)
    except FileNotFoundError:
        wd.mkdir(parents=True, exist_ok=True)
        (task_dir / "certs").mkdir(exist_ok=True)


def _killpg(pid: int) -> None:
    # Not contextlib.suppress: this runs after every task, and the group is usually gone already.
    try:  # noqa: SIM105
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _failure(code: str, message: str, category: str = "usererror") -> dict[str, Any]:
    return {"category": category, "code": code, "message": message,
            "details": [{"name": "Message", "value": message}]}


def _chown_tree(top: Path, uid: int, gid: int) -> None:
    """By descriptor and never through a link (os.fwalk), so a task user's process cannot redirect the
    walk to a file elsewhere by swapping a folder for a link while it runs."""
    os.chown(top, uid, gid, follow_symlinks=False)
    for _, dirs, files, fd in os.fwalk(top):
        for name in dirs + files:
            with contextlib.suppress(FileNotFoundError):
                os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)


def _reclaim(task_dir: Path, wd: Path) -> None:
    """The task folder becomes the emulator's again (only it may change it), with `wd` a real folder."""
    if not task_dir.exists():
        return
    _chown_tree(task_dir, os.geteuid(), os.getegid())
    if wd.is_symlink() or (wd.exists() and not wd.is_dir()):
        wd.unlink()


def _identity(user: TaskUser | None) -> dict[str, Any]:
    return {} if user is None else {"user": user.uid, "group": user.gid, "extra_groups": []}


def _env_for(run: TaskRun, user: TaskUser | None) -> dict[str, str]:
    if user is None:
        return run.env
    # The emulator's HOME (/root) is not the task user's: its home is its task folder.
    return {**run.env, "HOME": str(run.task_dir), "USER": user.name, "LOGNAME": user.name}


class InstantExecutor:
    """Completes attempts without a process: the exit code is that of an `exit N` the command line certainly
    reaches (instant.exit_code), else `exit_code`."""

    def __init__(self, exit_code: int = 0) -> None:
        self.exit_code = exit_code

    def run(self, run: TaskRun, handle: RunHandle) -> ExecResult:
        if run.container is not None and machine_engine().engine is None:
            return _no_engine()  # as a real run: a container task needs an engine even when it runs instantly
        return ExecResult(instant.exit_code(run.command_line) or self.exit_code)


class SubprocessExecutor:
    """Runs the command line as a real process (not under a shell, as Batch does), in its own session so a
    timeout or terminate kills everything it started. With a `user`, non-elevated tasks run as that user
    (see isolation.py), their folders owned by it; the emulator still reads and uploads their files."""

    def __init__(self, blob_endpoint: str | None = None, user: TaskUser | None = None,
                 node_packages: Sequence[str] | None = None) -> None:
        """`node_packages`: the Python distributions tasks may import (node_python), by default what the
        shipped stacks' start tasks install."""
        self.blob_endpoint = blob_endpoint
        self.user = user
        self.node_packages = tuple(DEFAULT_PACKAGES if node_packages is None else node_packages)
        self._owned_nodes: set[str] = set()

    def run(self, run: TaskRun, handle: RunHandle) -> ExecResult:
        wd = run.task_dir / "wd"
        user = None if run.elevated else self.user
        if user is not None:
            _reclaim(run.task_dir, wd)  # a retry: take back what the last attempt left before writing among it
        _make_dirs(run.task_dir, wd)
        try:
            storage.download_resource_files(run.resource_files, wd, self.blob_endpoint)
        except Exception as exc:  # any download problem is Batch's preprocessing error
            return ExecResult(None, _failure("ResourceFileDownloadError", f"Resource file download failed: {exc}"),
                              "preprocessing")
        if user is not None:
            self._hand_over(run, user)
        result = self._spawn(run, wd, handle, user)
        if run.output_files and result.phase in ("exit", "timeout"):
            return self._upload(run, wd, result, user) or result
        return result

    def _upload(self, run: TaskRun, wd: Path, result: ExecResult, user: TaskUser | None) -> ExecResult | None:
        if user is not None:
            _reclaim(run.task_dir, wd)  # no task can swap a file for a link while the upload reads it
        try:
            storage.upload_output_files(run.output_files, wd, run.env, result.exit_code,
                                        run.task_dir if user is not None else None)
        except Exception as exc:
            return ExecResult(result.exit_code,
                              _failure("FileUploadError", f"Output file upload failed: {exc}"), "fileupload")
        finally:
            if user is not None:  # the user's again: later tasks read what it left (a job preparation's files)
                _chown_tree(run.task_dir, user.uid, user.gid)
        return None

    def _hand_over(self, run: TaskRun, user: TaskUser) -> None:
        """The task's folder (and what was downloaded into it) and the node's shared folder become the
        user's; the folders above stay root's, so `..` leads nowhere it may read."""
        node_root = run.env.get("AZ_BATCH_NODE_ROOT_DIR")
        if node_root and node_root not in self._owned_nodes:
            with contextlib.suppress(FileNotFoundError):
                os.chown(os.path.join(node_root, "shared"), user.uid, user.gid)
            self._owned_nodes.add(node_root)
        _chown_tree(run.task_dir, user.uid, user.gid)

    @staticmethod
    def _argv(run: TaskRun, wd: Path) -> list[str]:
        if run.container is None:
            return shlex.split(run.command_line)
        engine = machine_engine()
        if engine.engine is None:
            return []
        return container_argv(engine.path or engine.engine, run.container, run.command_line, run.env.get("AZ_BATCH_NODE_ROOT_DIR", ""),
                              wd, run.env)

    def _spawn(self, run: TaskRun, wd: Path, handle: RunHandle, user: TaskUser | None = None) -> ExecResult:
        try:
            argv = self._argv(run, wd)
        except ValueError as exc:
            return ExecResult(None, _failure("CommandLineParseError", str(exc)), "preprocessing")
        if not argv:
            return _no_engine()
        # Plain descriptors, not file objects: the child gets its own copies, ours are closed at once.
        out = os.open(run.task_dir / "stdout.txt", _OUTPUT_FLAGS, 0o666)
        try:
            err = os.open(run.task_dir / "stderr.txt", _OUTPUT_FLAGS, 0o666)
            try:
                proc = subprocess.Popen(argv, cwd=wd, env=_env_for(run, user), stdout=out, stderr=err,
                                        stdin=_devnull(), start_new_session=True, **_identity(user))
            except OSError as exc:
                return ExecResult(None, _failure("CommandProgramNotFound", f"The task process could not be "
                                                 f"started: {exc.strerror}: {argv[0] if argv else ''}"),
                                  "preprocessing")
            finally:
                os.close(err)
        finally:
            os.close(out)
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
            if not run.keep_background:
                _killpg(proc.pid)  # leftovers of the group (background children) go with the task
        if handle.killed.is_set():
            return ExecResult(128 + signal.SIGKILL, None, "killed")
        # Batch reports a signal death as 128+N on Linux nodes; Popen gives -N.
        return ExecResult(128 - code if code < 0 else code)


def _no_engine() -> ExecResult:
    return ExecResult(None, _failure("ContainerEngineUnavailable", "The task runs in a container image and no "
                                     f"container engine works here: {machine_engine().why_not}"), "preprocessing")
