"""The local target's processes as recorded in processes.json, and whether a recorded PID is still ours.

A PID alone proves nothing: after a reboot or a long pause the number may belong to another program, and
signalling its group would kill that. A record is ours only while the process has the start time we
recorded (/proc/<pid>/stat, field 22) and its command line names the service and this checkout's data dir.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

SERVICES = {"emulator": b"bigcompute.emulator", "azurite": b"azurite"}  # name -> what its argv contains


def alive(pid: int | None) -> bool:
    """Running or sleeping. A zombie (ended, not yet reaped by its parent) is not, though kill(pid, 0) succeeds
    for it: a service whose parent is gone may stay one until init reaps it, and it cannot be signalled."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")  # proc(5): state, field 3


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 on. The command name (field 2) may hold spaces and parentheses: split after
    its last ')'."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_time(pid: int) -> str | None:
    """Clock ticks after boot at which `pid` started (proc(5), /proc/<pid>/stat field 22)."""
    fields = _stat(pid)
    return fields[19] if fields and len(fields) > 19 else None


def record(name: str, pid: int) -> dict[str, Any]:
    return {f"{name}Pid": pid, f"{name}Start": start_time(pid)}


def ours(procs: dict[str, Any], name: str, root: Path) -> bool:
    pid = procs.get(f"{name}Pid")
    if pid is None or not alive(pid):
        return False
    recorded = procs.get(f"{name}Start")
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes()
        if recorded is None:  # a record from before start times: its argv named the data dir relative to its cwd
            return SERVICES[name] in argv and str(root).encode() in argv and \
                (Path(os.readlink(f"/proc/{pid}/cwd")) / root).resolve() == root.resolve()
    except OSError:
        return False
    return recorded == start_time(pid) and SERVICES[name] in argv and str(root.resolve()).encode() in argv


def describe(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()[:80]
    except OSError:
        return "unknown"


def terminate(pid: int) -> None:
    """TERM, then KILL after 5 s, to the process group of a service we started (in its own session)."""
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    if alive(pid):
        os.killpg(pid, signal.SIGKILL)
