"""Which user non-elevated tasks run as. The emulator (root, when started by root) holds the account key
and the node folders; a task run as root could read the key through `..`. So, when the emulator runs as
root, non-elevated tasks run as an unprivileged user (`nobody` by default), provided a probe shows that
user can run the tools tasks use; otherwise they run as the emulator's user and the caller is told why.
Elevated tasks (autoUser elevationLevel admin) always run as the emulator's user, as on a Batch node.
"""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AUTO_USER = "nobody"
PROBED_TOOLS = ("sh", "python3")  # what the shipped workloads run; a forced user needs `sh` alone


@dataclass(frozen=True)
class TaskUser:
    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class Isolation:
    user: TaskUser | None  # None: non-elevated tasks run as the emulator's own user
    warning: str = ""  # non-empty when tasks can reach what the emulator's user can (or the user may fail)


def elevated(identity: dict[str, Any] | None) -> bool:
    auto = (identity or {}).get("autoUser") or {}
    return str(auto.get("elevationLevel", "nonadmin")).lower() == "admin"


def resolve(mode: str, data_dir: Path, path: str) -> Isolation:
    """`mode` is a user name, `auto` (nobody when root and the probe passes) or `none`. `data_dir` is
    opened to the user's group for traversal only (0710), so it reaches its node folders and nothing else."""
    me = getpass.getuser()
    if mode == "none":
        return Isolation(None, f"--task-user none: tasks run as {me}")
    if os.geteuid() != 0:
        return Isolation(None, f"the emulator runs as {me}, not root, so tasks run as {me} too")
    name = AUTO_USER if mode == "auto" else mode
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        return _refused(mode, f"there is no user {name}")
    user = TaskUser(name, pw.pw_uid, pw.pw_gid)
    open_to(data_dir, user.gid)
    problem = probe(user, path, data_dir, PROBED_TOOLS if mode == "auto" else PROBED_TOOLS[:1])
    if problem and mode == "auto":
        open_to(data_dir, None)
        return Isolation(None, problem)
    return Isolation(user, problem)


def _refused(mode: str, problem: str) -> Isolation:
    if mode == "auto":
        return Isolation(None, problem)
    raise ValueError(f"--task-user {mode}: {problem}")


def open_to(folder: Path, gid: int | None) -> None:
    """0710 with the task user's group (it may pass through, not list), or back to 0700 and our group."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chown(folder, -1, os.getegid() if gid is None else gid)
    folder.chmod(0o700 if gid is None else 0o710)


def probe(user: TaskUser, path: str, data_dir: Path, tools: tuple[str, ...]) -> str:
    """Run each tool as `user` from the task PATH, then enter `data_dir`: the first failure, or ""."""
    for tool in tools:
        exe = shutil.which(tool, path=path)
        if exe is None:
            return f"{tool} is not on the task PATH"
        if not _runs(user, [exe, "-c", ""]):
            return f"{tool} at {os.path.realpath(exe)} is not executable by {user.name}"
    sh = shutil.which("sh", path=path) or "/bin/sh"
    if not _runs(user, [sh, "-c", 'cd "$1"', "sh", str(data_dir)]):
        return f"the data dir {data_dir} is not reachable by {user.name} (a folder above it is private)"
    return ""


def _runs(user: TaskUser, argv: list[str]) -> bool:
    try:
        done = subprocess.run(argv, user=user.uid, group=user.gid, extra_groups=[], cwd="/", env={},
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
