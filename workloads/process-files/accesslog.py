"""Parse web access logs (Combined/Common Log Format, plain or gzipped) into counts that add up exactly.

Every count is a key of one flat Counter ("requests|2026-11-01T13Z", "status|2026-11-01T13Z|404",
"path|GET /api/orders", ...), so combining files is plain addition: the merge of per-file counts equals
counting all files at once, whatever the split. Shared by the per-file task, the merge and the
single-process reference run.
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

LINE = re.compile(r'(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<target>\S+)(?: [^"]*)?" '
                  r'(?P<status>\d{3}) (?P<bytes>\d+|-)(?: "[^"]*" "[^"]*")?\s*$')
STAMP = re.compile(r"(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})")
MONTHS = {m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}


def utc_hour(stamp: str) -> str | None:
    """'01/Nov/2026:01:05:22 +0100' -> '2026-11-01T00Z'. By hand, not strptime: %b depends on the locale."""
    m = STAMP.fullmatch(stamp)
    if not m or m[2] not in MONTHS:
        return None
    day, mon, year, hh, mm, ss, sign, oh, om = m.groups()
    offset = timedelta(hours=int(oh), minutes=int(om)) * (1 if sign == "+" else -1)
    when = datetime(int(year), MONTHS[mon], int(day), int(hh), int(mm), int(ss), tzinfo=timezone(offset))
    return when.astimezone(UTC).strftime("%Y-%m-%dT%HZ")


def count_lines(lines) -> Counter:
    counts: Counter = Counter()
    for text in lines:
        counts["lines"] += 1
        m = LINE.match(text)
        hour = utc_hour(m["time"]) if m else None
        if hour is None:
            counts["malformed"] += 1  # counted, never silently dropped: the totals must still add up
            continue
        size = 0 if m["bytes"] == "-" else int(m["bytes"])  # CLF logs "-" for an empty body
        counts["requests"] += 1
        counts["bytes"] += size
        counts[f"requests|{hour}"] += 1
        counts[f"bytes|{hour}"] += size
        counts[f"status|{hour}|{m['status']}"] += 1
        counts[f"path|{m['method']} {m['target'].split('?', 1)[0]}"] += 1  # query strings would explode the keys
    return counts


def count_file(path: Path) -> Counter:
    opener = gzip.open if path.suffix == ".gz" else open
    # errors="replace": a stray binary line is a malformed line, not a crash.
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="\n") as f:
        return count_lines(line.rstrip("\n") for line in f)


def summarize(counts: Counter, files: int) -> dict:
    """Totals, the hourly table and the top paths, from the counts of all files."""
    hours: dict[str, dict] = {}
    for key, n in counts.items():
        kind, _, rest = key.partition("|")
        if kind in ("requests", "bytes") and rest:
            hours.setdefault(rest, {"requests": 0, "bytes": 0, "status": Counter()})[kind] += n
        elif kind == "status":
            hour, code = rest.split("|")
            hours.setdefault(hour, {"requests": 0, "bytes": 0, "status": Counter()})["status"][code] += n
    status = Counter()
    for h in hours.values():
        status.update(h["status"])
    paths = Counter({k.split("|", 1)[1]: n for k, n in counts.items() if k.startswith("path|")})
    busiest = max(hours, key=lambda h: hours[h]["requests"]) if hours else None
    return {
        "files": files, "lines": counts["lines"], "malformed": counts["malformed"],
        "requests": counts["requests"], "bytes": counts["bytes"],
        "status": dict(sorted(status.items())),
        "server_error_rate": round(sum(n for c, n in status.items() if c.startswith("5")) / max(1, counts["requests"]), 6),
        "busiest_hour": busiest,
        "top_paths": paths.most_common(5),
        "hours": {h: {"requests": v["requests"], "bytes": v["bytes"], "status": dict(sorted(v["status"].items()))}
                  for h, v in sorted(hours.items())},
    }
