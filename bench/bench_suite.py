"""`make test` on this machine (target < 6 min, every test kept), read from the run `make test` recorded
(bench/record_test_run.py): the suite is not rerun inside `make bench`. The record's own load average
(before and after the run) stands in the load column: the run's conditions, not the bench's."""

from __future__ import annotations

import json

from bench.harness import Figure
from bench.record_test_run import RECORD

TARGET_S = 6 * 60


def run() -> list[Figure]:
    if not RECORD.exists():
        return [Figure(f"`make test` wall time: no recorded run ({RECORD} is written by `make test`)",
                       float("nan"), "s", None, "", "< 6 min", None)]
    run_ = json.loads(RECORD.read_text())
    passed = run_["exit"] == 0
    name = (f"`make test` wall time, run {run_['started']} at {run_['commit']} ({run_['summary']}; "
            f"load {run_['load_before']:.1f} before)")
    return [Figure(name, run_["wall_s"], "s", None, "", "< 6 min, every test passing",
                   passed and run_["wall_s"] < TARGET_S, load=run_["load_after"])]
