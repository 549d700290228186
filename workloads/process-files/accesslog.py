"""Parse web access logs (Combined/Common Log Format, plain or gzipped) into counts that add up exactly.

Every count is a key of one flat Counter ("requests|2026-11-01T13Z", "status|2026-11-01T13Z|404",
"path|GET /api/orders", ...), so combining files is plain addition: the merge of per-file counts equals
counting all files at once, whatever the split. Shared by the per-file task, the merge and the
single-process reference run.

Real logs are messy, and a task must neither die on one bad line nor call a file in another format a
success: a line that is not a log line, or whose timestamp is impossible (31/Feb, hour 25, offset +9999),
is counted as malformed with its reason ("malformed|timestamp"), and `check` fails the file when more
than a threshold of its lines are malformed. Lines servers really write are requests: a request of "-"
(nginx on a 408), binary junk a TLS client sent to the plain-HTTP port (logged as a 400, escaped as
\x16\x03...), escaped quotes inside the request, and extra fields after the Combined format's. A
truncated .gz file keeps the lines read before the damage, and its counts say so ("truncated").
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

# Combined (or Common) Log Format; the request is any quoted text with backslash escapes (Apache writes \",
# nginx \x22), and anything may follow the bytes field: referer, user agent, and fields a server appends.
LINE = re.compile(r'(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<request>(?:[^"\\]|\\.)*)" '
                  r'(?P<status>\d{3}) (?P<bytes>\d+|-)(?:\s.*)?$')
REQUEST = re.compile(r"(?P<method>[A-Z]+) (?P<target>\S+)(?: .*)?")  # the rest: protocol, or junk
MAX_MALFORMED = 0.05  # the fraction of malformed lines above which a file is not taken for a log
STAMP = re.compile(r"(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})")
MONTHS = {m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}


def utc_hour(stamp: str) -> str | None:
    """'01/Nov/2026:01:05:22 +0100' -> '2026-11-01T00Z'; None for an impossible time. By hand, not
    strptime: %b depends on the locale."""
    m = STAMP.fullmatch(stamp)
    if not m or m[2] not in MONTHS:
        return None
    day, mon, year, hh, mm, ss, sign, oh, om = m.groups()
    try:  # 31/Feb, hour 25, minute 60 or an offset of a day or more raise ValueError
        offset = timedelta(hours=int(oh), minutes=int(om)) * (1 if sign == "+" else -1)
        if int(om) >= 60:
            return None
        when = datetime(int(year), MONTHS[mon], int(day), int(hh), int(mm), int(ss), tzinfo=timezone(offset))
    except ValueError:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%HZ")


def path_key(request: str) -> str:
    """'GET /a?q=1 HTTP/1.1' -> 'GET /a' (query strings would explode the keys); '-' for no request line
    (a 408), '(not HTTP)' for anything else a client sent."""
    if request == "-":
        return "-"
    m = REQUEST.fullmatch(request)
    return f"{m['method']} {m['target'].split('?', 1)[0]}" if m else "(not HTTP)"


def count_lines(lines) -> Counter:
    counts: Counter = Counter()
    for text in lines:
        counts["lines"] += 1
        m = LINE.match(text)
        hour = utc_hour(m["time"]) if m else None
        if hour is None:
            # counted with its reason, never silently dropped: the totals must still add up
            counts["malformed"] += 1
            counts[f"malformed|{'timestamp' if m else 'format'}"] += 1
            continue
        size = 0 if m["bytes"] == "-" else int(m["bytes"])  # CLF logs "-" for an empty body
        counts["requests"] += 1
        counts["bytes"] += size
        counts[f"requests|{hour}"] += 1
        counts[f"bytes|{hour}"] += size
        counts[f"status|{hour}|{m['status']}"] += 1
        counts[f"path|{path_key(m['request'])}"] += 1
    return counts


def read_lines(path: Path, damage: list[str]) -> Iterator[str]:
    """The file's lines; for a damaged .gz, the complete lines before the damage (a line cut by it is not
    read), and what went wrong in `damage`."""
    opener = gzip.open if path.suffix == ".gz" else open
    # errors="replace": a stray binary line is a malformed line, not a crash.
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="\n") as f:
        try:
            for line in f:
                yield line.rstrip("\n")
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            damage.append(str(error) or type(error).__name__)


def count_file(path: Path) -> Counter:
    damage: list[str] = []
    counts = count_lines(read_lines(path, damage))
    if damage:
        counts[f"truncated|{path.name}"] = 1
    return counts


def check(name: str, counts: Counter, limit: float = MAX_MALFORMED) -> str | None:
    """Why a file's counts are not to be trusted (too many malformed lines: another format), or None."""
    if counts["lines"] and counts["malformed"] > limit * counts["lines"]:
        reasons = ", ".join(f"{k.split('|', 1)[1]} {n}" for k, n in sorted(counts.items())
                            if k.startswith("malformed|"))
        return (f"{name}: {counts['malformed']} of {counts['lines']} lines malformed ({reasons}), more than "
                f"{limit:.0%}: not an access log in the Combined or Common Log Format?")
    return None


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
        "malformed_reasons": {k.split("|", 1)[1]: n for k, n in sorted(counts.items()) if k.startswith("malformed|")},
        "truncated_files": sorted(k.split("|", 1)[1] for k in counts if k.startswith("truncated|")),
        "requests": counts["requests"], "bytes": counts["bytes"],
        "status": dict(sorted(status.items())),
        "server_error_rate": round(sum(n for c, n in status.items() if c.startswith("5")) / max(1, counts["requests"]), 6),
        "busiest_hour": busiest,
        "top_paths": paths.most_common(5),
        "hours": {h: {"requests": v["requests"], "bytes": v["bytes"], "status": dict(sorted(v["status"].items()))}
                  for h, v in sorted(hours.items())},
    }
