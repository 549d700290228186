"""One task: count one log file (requests, bytes and status codes per UTC hour, requests per path)."""

import argparse
import json
from pathlib import Path

from accesslog import MAX_MALFORMED, check, count_file

parser = argparse.ArgumentParser()
parser.add_argument("file", type=Path)
parser.add_argument("--out", type=Path, default=Path("results/counts.json"))
parser.add_argument("--max-malformed", type=float, default=MAX_MALFORMED,
                    help="fail when more than this fraction of the lines is malformed")
args = parser.parse_args()

counts = count_file(args.file)
reasons = ", ".join(f"{k.split('|', 1)[1]} {n}" for k, n in sorted(counts.items()) if k.startswith("malformed|"))
print(f"{args.file.name}: {counts['requests']:,} requests, {counts['bytes']:,} bytes, "
      f"{counts['malformed']} malformed{f' ({reasons})' if reasons else ''}")
if counts[f"truncated|{args.file.name}"]:
    print(f"warning: {args.file.name} is truncated: counted the {counts['lines']:,} complete lines before the "
          "damage; the rest of the file is lost")
problem = check(args.file.name, counts, args.max_malformed)
if problem:  # a file in another format must not "succeed" with 0 requests; nothing is written
    raise SystemExit(problem)
args.out.parent.mkdir(parents=True, exist_ok=True)
args.out.write_text(json.dumps({"file": args.file.name, "counts": dict(sorted(counts.items()))}, indent=1) + "\n")
