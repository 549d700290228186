"""Test-only kill points: `apply` stops at a named phase boundary so a test can kill -9 it exactly there.

Armed only when BIGCOMPUTE_TEST_KILL_POINT is `PHASE:N:FIFO` and FIFO is a named pipe that exists (a test
makes it with os.mkfifo): the N-th time the process reaches PHASE, it writes `PHASE PID` to the pipe and
waits to be killed. Reaching a later phase first (PHASE was skipped) stops it there the same way, so a test
learns at once that the apply went past the point it asked for. Unset — every normal run — `kill_point`
returns at once; set to anything else, the process stops with an error rather than run without the stop the
test asked for.
"""

from __future__ import annotations

import functools
import os
import stat
import threading
from dataclasses import dataclass

ENV = "BIGCOMPUTE_TEST_KILL_POINT"
PHASES = ("uploading", "uploaded", "job-created", "adding-tasks", "submitted", "monitoring", "downloading")  # in order
WAIT_SECONDS = 600  # a test that forgot to kill: exit then, rather than hang forever


@dataclass
class _Armed:
    phase: str
    nth: int
    fifo: str
    reached: int = 0


_lock = threading.Lock()


@functools.cache
def _armed() -> _Armed | None:
    value = os.environ.get(ENV)
    if value is None:
        return None
    phase, nth, fifo = (value.split(":", 2) + ["", ""])[:3]
    if phase not in PHASES or not nth.isdigit() or int(nth) < 1 or not _is_fifo(fifo):
        raise RuntimeError(f"{ENV}={value!r}: tests only; expected PHASE:N:FIFO with PHASE one of "
                           f"{', '.join(PHASES)}, N >= 1 and FIFO an existing named pipe")
    return _Armed(phase, int(nth), fifo)


def _is_fifo(path: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def kill_point(phase: str) -> None:
    """A phase boundary of `apply`: nothing unless a test armed this phase (see the module docstring)."""
    armed = _armed()
    if armed is None or PHASES.index(phase) < PHASES.index(armed.phase):
        return
    with _lock:
        if phase == armed.phase:
            armed.reached += 1
            if armed.reached < armed.nth:
                return
        with open(armed.fifo, "w") as pipe:  # one short write: atomic on a pipe
            pipe.write(f"{phase} {os.getpid()}\n")
        threading.Event().wait(WAIT_SECONDS)  # holding the lock: no other thread passes this phase either
    os._exit(70)
