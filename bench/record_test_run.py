"""`python -m bench.record_test_run CMD...`: run the test suite as `make test` does and record its wall time.

The record (.bigcompute/make-test.json: wall time, exit code, the pytest summary line, the load average
before and after, the commit) is what bench/bench_suite.py reports as the `make test` row: the suite is
never rerun inside `make bench`. The command's output passes through unchanged, and so does its exit code.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

from bench.harness import loadavg, machine

RECORD = Path(".bigcompute") / "make-test.json"


def main(command: list[str]) -> int:
    started, load_before = time.time(), loadavg()
    t0 = time.perf_counter()
    tail: deque[str] = deque(maxlen=5)
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            if line.strip():
                tail.append(line.strip())
    wall = time.perf_counter() - t0
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    RECORD.parent.mkdir(exist_ok=True)
    RECORD.write_text(json.dumps({
        "command": command, "wall_s": wall, "exit": proc.returncode, "summary": tail[-1] if tail else "",
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)), "commit": commit,
        "load_before": load_before, "load_after": loadavg(), "machine": machine()}, indent=2) + "\n")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
