"""Merge: add every task's counts into the summary (summary.json) and an hourly table (hourly.csv).

Task results are under $BIGCOMPUTE_TASK_OUTPUTS/<task id>/counts.json; `--reference GLOB` instead counts
the matching log files here in one process, to check the distributed run against.
"""

import argparse
import csv
import json
import os
from collections import Counter
from pathlib import Path

from accesslog import count_file, summarize

parser = argparse.ArgumentParser()
parser.add_argument("--out", type=Path, default=Path("summary"))
parser.add_argument("--reference", metavar="GLOB", help="count these log files here instead")
args = parser.parse_args()

total: Counter = Counter()
if args.reference:
    files = sorted(Path().glob(args.reference))
    for path in files:
        total.update(count_file(path))
else:
    folder = Path(os.environ["BIGCOMPUTE_TASK_OUTPUTS"])
    files = sorted(folder.glob("*/counts.json"))
    sources = [json.loads(p.read_text()) for p in files]
    names = [s["file"] for s in sources]
    if len(set(names)) != len(names):
        raise SystemExit(f"a log file was counted twice: {sorted(names)}")
    for s in sources:
        total.update(s["counts"])
if not files:
    raise SystemExit("no log files or task results found")

summary = summarize(total, len(files))
args.out.mkdir(parents=True, exist_ok=True)
(args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
with open(args.out / "hourly.csv", "w", newline="") as f:
    out = csv.writer(f)
    out.writerow(["hour_utc", "requests", "bytes", "2xx", "3xx", "4xx", "5xx"])
    for hour, h in summary["hours"].items():
        by_class = Counter()
        for code, n in h["status"].items():
            by_class[code[0] + "xx"] += n
        out.writerow([hour, h["requests"], h["bytes"], *(by_class[c] for c in ("2xx", "3xx", "4xx", "5xx"))])

print(f"{summary['files']} files: {summary['requests']:,} requests, {summary['bytes']:,} bytes, "
      f"{summary['malformed']} malformed lines, 5xx rate {summary['server_error_rate']:.2%}, "
      f"busiest hour {summary['busiest_hour']}")
if summary["truncated_files"]:
    print(f"warning: truncated files, counted up to the damage: {', '.join(summary['truncated_files'])}")
