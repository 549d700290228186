"""Read a file only when it is a regular file. A FIFO blocks, a device such as /dev/zero never ends, a
socket or a directory cannot be read: any of them would bypass a size limit or hang the command."""

from __future__ import annotations

import os
import stat
from pathlib import Path

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class NotRegularFile(OSError):
    """The path exists but is not a regular file; `str()` says what it is."""


def kind_of(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def require_regular(path: str | Path) -> os.stat_result:
    """The file's stat, following symlinks; raises NotRegularFile for anything but a regular file."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(f"{kind_of(st.st_mode)}, not a regular file")
    return st


def read_regular(path: str | Path, max_bytes: int | None = None) -> bytes:
    """The file's bytes, at most `max_bytes + 1` of them (so a caller can tell it is over the limit)."""
    require_regular(path)
    # O_NONBLOCK: a FIFO swapped in after the stat must not block the open; fstat then refuses it.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"{kind_of(mode)}, not a regular file")
        return f.read() if max_bytes is None else f.read(max_bytes + 1)
