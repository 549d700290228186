"""process-files: one task per log file, a merge summing them; the totals must equal a direct count.

The demo logs (make_logs.py) hold what real logs hold: requests of "-" (408), TLS junk (400), escaped
quotes, appended fields (all requests), impossible timestamps and cut or binary lines (malformed), and
one truncated file. The direct count here is independent of the workload's parser (zlib, str.split,
strptime); the fast tests run aggregate.py on hand-made files, without the local target."""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
import zlib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[2] / "workloads" / "process-files"
LOGS = FOLDER / "logs"


def read_lines(path: Path) -> tuple[list[bytes], bool]:
    """The complete lines of a gzip file, also of one cut short, and whether it was cut."""
    inflate = zlib.decompressobj(wbits=31)
    data = inflate.decompress(path.read_bytes())
    return data.split(b"\n")[:-1], not inflate.eof


def parse(text: str) -> tuple[str, str, int] | None:
    """(UTC hour, status, bytes) of a Combined/Common Log Format line, None if it is not one."""
    try:
        stamp, rest = text.split(" [", 1)[1].split('] "', 1)
        when = datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z").astimezone(UTC)
        end = rest.index('"')
        while rest[:end].endswith("\\"):  # an escaped quote is part of the request
            end = rest.index('"', end + 1)
        code, nbytes = rest[end + 1:].split()[:2]
        if not (len(code) == 3 and code.isdigit() and (nbytes == "-" or nbytes.isdigit())):
            return None
    except (IndexError, ValueError):  # a missing separator, a short line, an impossible time
        return None
    return when.strftime("%Y-%m-%dT%HZ"), code, 0 if nbytes == "-" else int(nbytes)


def direct_count(files: list[Path]) -> dict:
    """Count the logs in one pass with code independent of the workload's parser."""
    requests, malformed, size, truncated = 0, 0, 0, []
    per_hour, status = Counter(), Counter()
    for path in files:
        lines, cut = read_lines(path)
        truncated += [path.name] if cut else []
        for raw in lines:
            parsed = parse(raw.decode("utf-8", "replace"))
            if parsed is None:
                malformed += 1
                continue
            hour, code, nbytes = parsed
            requests, size = requests + 1, size + nbytes
            per_hour[hour] += 1
            status[code] += 1
    return {"requests": requests, "bytes": size, "malformed": malformed, "per_hour": per_hour,
            "status": status, "truncated": truncated}


def test_log_totals_equal_a_direct_count(run_workload):
    files = sorted(LOGS.glob("*.log.gz"))
    assert len(files) >= 3
    run = run_workload("process-files")
    assert f"{run.name}: all {len(files) + 1} tasks succeeded" in run.output

    summary = json.loads((run.out / "merge" / "summary.json").read_text())
    expected = direct_count(files)
    lines = sum(len(read_lines(p)[0]) for p in files)
    assert summary["files"] == len(files)
    assert (summary["lines"], summary["malformed"]) == (lines, expected["malformed"])
    assert expected["malformed"] > 0  # the demo data has bad lines, and they are counted, not lost
    # ...with their reasons: 4 impossible timestamps per whole file (3 made it into the truncated one)
    assert summary["malformed_reasons"]["timestamp"] == 4 * (len(files) - 1) + 3
    assert sum(summary["malformed_reasons"].values()) == summary["malformed"]
    # The truncated file counts up to the damage, and the summary says so.
    assert summary["truncated_files"] == expected["truncated"] == ["web-05.log.gz"]
    assert {"400", "408"} <= set(summary["status"])  # TLS junk and empty requests are requests
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


GOOD = '192.0.2.1 - - [01/Nov/2026:13:05:22 +0000] "GET /a?x=1 HTTP/1.1" 200 512 "-" "curl/8.5.0"'
REAL = [  # lines real servers write: all requests
    '192.0.2.2 - - [01/Nov/2026:13:06:00 +0000] "-" 408 0 "-" "-"',
    r'192.0.2.3 - - [01/Nov/2026:13:07:00 +0000] "\x16\x03\x01\x02\x00\x01" 400 157 "-" "-"',
    r'192.0.2.4 - - [01/Nov/2026:13:08:00 +0000] "GET /s?q=\"x y\" HTTP/1.1" 200 10 "-" "a \"b\""',
    '192.0.2.5 - - [01/Nov/2026:14:09:00 +0100] "POST /login HTTP/2.0" 302 - "-" "ua" 0.012 "10.0.0.1"',
    '192.0.2.6 - - [01/Nov/2026:13:10:00 +0000] "GET /b HTTP/1.0" 204 -',  # Common Log Format
]
BAD_TIMES = ["99/Nov/2026:10:00:00 +0000", "31/Feb/2026:10:00:00 +0000", "01/Nov/2026:25:00:00 +0000",
             "01/Nov/2026:10:00:00 +9999", "01/Nov/2026:10:00:00 +0160"]


def aggregate(path: Path, tmp_path: Path, *options: str) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / "results" / "counts.json"
    done = subprocess.run([sys.executable, "-B", str(FOLDER / "aggregate.py"), str(path), "--out", str(out),
                           *options], capture_output=True, text=True)
    return done, out


def test_real_lines_are_requests_and_impossible_times_are_malformed(tmp_path):
    lines = [GOOD, *REAL, *(GOOD.replace("01/Nov/2026:13:05:22 +0000", t) for t in BAD_TIMES)]
    log = tmp_path / "web.log"
    log.write_text("\n".join(lines * 10) + "\n")  # 5 bad of 11 lines would pass the threshold: repeat
    done, out = aggregate(log, tmp_path, "--max-malformed", "0.5")
    assert done.returncode == 0, done.stderr
    counts = json.loads(out.read_text())["counts"]
    assert (counts["lines"], counts["requests"], counts["malformed"]) == (110, 60, 50)
    assert counts["malformed|timestamp"] == 50 and "malformed|format" not in counts
    assert counts["path|-"] == counts["path|(not HTTP)"] == 10
    assert counts["path|GET /s"] == counts["path|POST /login"] == counts["path|GET /a"] == 10
    assert counts["status|2026-11-01T13Z|302"] == 10  # 14:09 at +0100 is 13Z
    assert counts["bytes"] == 10 * (512 + 0 + 157 + 10)


def test_a_file_in_another_format_fails_its_task_and_writes_nothing(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("".join(f'{{"ts": "2026-11-01T13:{i:02d}:00Z", "path": "/a", "status": 200}}\n'
                           for i in range(50)) + GOOD + "\n")
    done, out = aggregate(log, tmp_path)
    assert done.returncode != 0
    assert "app.log: 50 of 51 lines malformed (format 50), more than 5%" in done.stderr
    assert not out.exists()


def test_a_truncated_gz_keeps_the_lines_before_the_damage_and_says_so(tmp_path):
    lines = [GOOD.replace("13:05:22", f"13:{i // 60:02d}:{i % 60:02d}") for i in range(3000)]
    data = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    log = tmp_path / "web.log.gz"
    log.write_bytes(data[: len(data) // 2])
    complete, cut = read_lines(log)
    assert cut and 0 < len(complete) < 3000
    done, out = aggregate(log, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "web.log.gz is truncated" in done.stdout
    counts = json.loads(out.read_text())["counts"]
    assert counts["requests"] == counts["lines"] == len(complete)
    assert counts["truncated|web.log.gz"] == 1
