"""process-files: one task per log file, a merge summing them; the totals must equal a direct count."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

LOGS = Path(__file__).resolve().parents[2] / "workloads" / "process-files" / "logs"


def read_lines(path: Path) -> list[bytes]:
    with gzip.open(path, "rb") as f:
        return f.read().split(b"\n")[:-1]


def direct_count(files: list[Path]) -> dict:
    """Count the logs in one pass with code independent of the workload's parser (split, strptime)."""
    total, malformed, size = Counter(), 0, 0
    per_hour, status = Counter(), Counter()
    for path in files:
        for raw in read_lines(path):
            parts = raw.decode("utf-8", "replace").split('"')
            try:
                stamp = parts[0].split("[", 1)[1].split("]", 1)[0]
                when = datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z").astimezone(UTC)
                code, nbytes = parts[2].split()
                int(code)
                assert len(parts[1].split()) == 3
            except (IndexError, ValueError, AssertionError):
                malformed += 1
                continue
            total["requests"] += 1
            size += 0 if nbytes == "-" else int(nbytes)
            per_hour[when.strftime("%Y-%m-%dT%HZ")] += 1
            status[code] += 1
    return {"requests": total["requests"], "bytes": size, "malformed": malformed, "per_hour": per_hour,
            "status": status}


def test_log_totals_equal_a_direct_count(run_workload):
    files = sorted(LOGS.glob("*.log.gz"))
    assert len(files) >= 3
    run = run_workload("process-files")
    assert f"{run.name}: all {len(files) + 1} tasks succeeded" in run.output

    summary = json.loads((run.out / "merge" / "summary.json").read_text())
    expected = direct_count(files)
    lines = sum(len(read_lines(p)) for p in files)
    assert summary["files"] == len(files)
    assert (summary["lines"], summary["malformed"]) == (lines, expected["malformed"])
    assert expected["malformed"] > 0  # the demo data has bad lines, and they are counted, not lost
    assert (summary["requests"], summary["bytes"]) == (expected["requests"], expected["bytes"])
    assert summary["requests"] + summary["malformed"] == lines
    assert summary["status"] == dict(sorted(expected["status"].items()))
    # Hours are UTC whatever offset a server logged in (web-02 logs at +0100): one day, 24 hours.
    assert {h: v["requests"] for h, v in summary["hours"].items()} == dict(expected["per_hour"])
    assert len(summary["hours"]) == 24 and all(h.startswith("2026-11-01T") for h in summary["hours"])
    assert summary["busiest_hour"] == max(expected["per_hour"], key=expected["per_hour"].get)
    assert sum(n for _, n in summary["top_paths"]) <= summary["requests"]

    # The hourly table adds up to the same totals, and each row's status classes to its requests.
    rows = list(csv.DictReader((run.out / "merge" / "hourly.csv").open()))
    assert sum(int(r["requests"]) for r in rows) == expected["requests"]
    assert sum(int(r["bytes"]) for r in rows) == expected["bytes"]
    assert all(int(r["requests"]) == sum(int(r[c]) for c in ("2xx", "3xx", "4xx", "5xx")) for r in rows)
