"""One task: count one log file (requests, bytes and status codes per UTC hour, requests per path)."""

import argparse
import json
from pathlib import Path

from accesslog import count_file

parser = argparse.ArgumentParser()
parser.add_argument("file", type=Path)
parser.add_argument("--out", type=Path, default=Path("results/counts.json"))
args = parser.parse_args()

counts = count_file(args.file)
args.out.parent.mkdir(parents=True, exist_ok=True)
args.out.write_text(json.dumps({"file": args.file.name, "counts": dict(sorted(counts.items()))}, indent=1) + "\n")
print(f"{args.file.name}: {counts['requests']:,} requests, {counts['bytes']:,} bytes, {counts['malformed']} malformed")
