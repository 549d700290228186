"""Shared benchmark plumbing: measure a figure and its floor in the same run, report both as a ratio.

A benchmark module `bench/bench_<area>.py` defines `run() -> list[Figure]`. `python -m bench` runs every
module (or those named on the command line), prints each figure and writes `bench/RESULTS.md`.

Each figure carries the machine's load average when it was taken (the 1-minute figure of /proc/loadavg): the
machine is shared, and a figure taken at a load above the core count is marked as measured under load.
`--scale F` (or BENCH_SCALE) shrinks every size by F for a quick check; only a full run at scale 1 writes
RESULTS.md.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def loadavg() -> float:
    """The 1-minute load average: how many runnable processes shared the cores over the last minute."""
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0]


def scale() -> float:
    """The sizes' factor: 1 for the issue's figures, smaller for a quick check (`python -m bench --scale 0.1`)."""
    return float(os.environ.get("BENCH_SCALE", "1"))


def scaled(n: int, least: int = 1) -> int:
    return max(least, round(n * scale()))


def under_load(load: float) -> bool:
    return load > (os.cpu_count() or 1)


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    floor: float | None = None
    floor_label: str = ""
    target: str = ""
    met: bool | None = None
    load: float = field(default_factory=loadavg)  # taken when the figure is made, right after its measurement

    @property
    def ratio(self) -> float | None:
        if self.floor in (None, 0):
            return None
        return self.value / self.floor

    def line(self) -> str:
        ratio = f"{self.ratio:.2f}x" if self.ratio is not None else "-"
        floor = f"{self.floor:.4g} {self.unit} ({self.floor_label})" if self.floor is not None else "-"
        verdict = {True: "met", False: "MISSED", None: ""}[self.met]
        load = f"{self.load:.1f}" + (" (under load)" if under_load(self.load) else "")
        return f"| {self.name} | {self.value:.4g} {self.unit} | {floor} | {ratio} | {self.target} | {verdict} | {load} |"


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run_child(code: str, *args: str, env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run Python `code` in a fresh interpreter; return (wall seconds, peak RSS in bytes, stdout).

    A child process gives a clean peak-RSS reading for each measurement, read from /proc/self/status
    (VmHWM, the high-water mark of the child's own memory). Not getrusage's ru_maxrss: Linux carries it
    across fork and exec, so a child would report at least its parent's peak (the driver's, after
    earlier benchmarks).
    """
    wrapper = (
        "import resource, sys, time\n"
        "_t = time.perf_counter()\n"
        f"exec(compile({code!r}, '<bench>', 'exec'))\n"
        "_w = time.perf_counter() - _t\n"
        "try:\n"
        "    _r = [int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "except (OSError, IndexError):\n"
        "    _r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024\n"
        "print(f'__BENCH__ {_w} {_r}', file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", wrapper, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    marker = [ln for ln in proc.stderr.splitlines() if ln.startswith("__BENCH__")][-1].split()
    return float(marker[1]), int(marker[2]), proc.stdout


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            models = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        cpu = models[0] if models else cpu
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem_gib:.0f} GiB, {cpu}, Python {platform.python_version()}"


def self_peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
