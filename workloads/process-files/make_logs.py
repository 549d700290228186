"""Regenerate the demo data in logs/: one day of gzipped web access logs per web server, in the Combined
Log Format that nginx and Apache write:

    203.0.113.7 - - [01/Nov/2026:13:05:22 +0000] "GET /api/orders HTTP/1.1" 200 5120 "-" "curl/8.5.0"

Seeded, so the same files come out every time. Real logs are messy, so these are too. Requests written
the way real servers write them: one server logs in local time (+0100), 304 and 204 responses log "-"
for bytes, a 408 logs "-" for the request, a TLS handshake sent to the plain-HTTP port is logged as a 400
with its bytes escaped (\x16\x03...), requests and user agents carry escaped quotes (\"), and one server
appends fields (request time, forwarded-for) after the Combined format's. And lines that are not
requests, which the aggregation must count as malformed rather than drop or die on: lines cut off or
binary garbage, and impossible timestamps (99/Nov, 31/Feb, hour 25, offset +9999). The last server's file
is truncated mid-stream, as when a disk fills or a copy is interrupted.

    python3 make_logs.py [--servers 5] [--requests 2500] [--out logs]
"""

from __future__ import annotations

import argparse
import gzip
import math
import random
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

PATHS = [("GET", "/", 0.18), ("GET", "/index.html", 0.06), ("GET", "/static/app.js", 0.12),
         ("GET", "/static/style.css", 0.10), ("GET", "/api/products", 0.16), ("GET", "/api/orders", 0.08),
         ("POST", "/api/orders", 0.05), ("GET", "/api/search?q=batch", 0.07), ("POST", "/login", 0.04),
         ("GET", "/images/logo.png", 0.09), ("GET", "/healthz", 0.05)]
STATUS = [(200, 0.80), (304, 0.08), (404, 0.05), (301, 0.02), (204, 0.01), (500, 0.025), (503, 0.015)]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Safari/605.1.15",
          "curl/8.5.0", "kube-probe/1.30", "python-requests/2.32.3"]
NETWORKS = ["192.0.2", "198.51.100", "203.0.113"]  # documentation address ranges (RFC 5737)
DAY = datetime(2026, 11, 1, tzinfo=UTC)


def pick(rng: random.Random, weighted):
    return rng.choices(weighted, weights=[w[-1] for w in weighted])[0]


def hour_weights() -> list[float]:
    # Diurnal traffic: quiet at night, peaking mid-afternoon UTC.
    return [1.0 + 0.9 * math.sin(math.pi * (h - 8) / 12) if 8 <= h <= 20 else 0.35 for h in range(24)]


# Requests as real servers log them, each as (request, status, bytes) or None for an ordinary request.
ODD_REQUESTS = [("-", 408, "0"),  # the client opened a connection and sent nothing in time
                (r"\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03", 400, "157"),  # TLS to the HTTP port
                (r'GET /api/search?q=\"batch jobs\" HTTP/1.1', 200, "2310")]  # Apache escapes quotes
# Timestamps no clock writes, from broken log shippers and hand edits: malformed lines.
BAD_STAMPS = ["99/Nov/2026:10:00:00 +0000", "31/Feb/2026:10:00:00 +0000", "01/Nov/2026:25:00:00 +0000",
              "01/Nov/2026:10:00:00 +9999"]


def line(rng: random.Random, when: datetime, extra_fields: bool = False) -> str:
    method, path, _ = pick(rng, PATHS)
    status, _ = pick(rng, STATUS)
    size = "-" if status in (204, 304) else str(int(rng.lognormvariate(8.0, 1.1)))
    request, agent = f"{method} {path} HTTP/1.1", rng.choice(AGENTS)
    if rng.random() < 0.01:
        request, status, size = rng.choice(ODD_REQUESTS)
        agent = r'Mozilla/5.0 (compatible; \"scanner\")' if status == 400 else "-"
    client = f"{rng.choice(NETWORKS)}.{rng.randint(1, 254)}"
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S %z")
    text = f'{client} - - [{stamp}] "{request}" {status} {size} "-" "{agent}"'
    # nginx's log_format with $request_time and $http_x_forwarded_for after the Combined fields
    return text + f' {rng.uniform(0.001, 0.4):.3f} "-"' if extra_fields else text


def write_server(out: Path, index: int, requests: int, truncate: bool = False) -> Path:
    rng = random.Random(20261101 + index)
    local = timezone(timedelta(hours=1)) if index == 2 else UTC  # web-02 logs in local time
    hours = rng.choices(range(24), weights=hour_weights(), k=requests)
    times = sorted(DAY + timedelta(hours=h, seconds=rng.uniform(0, 3600)) for h in hours)
    lines = [line(rng, t.astimezone(local), extra_fields=index == 3) for t in times]
    for _ in range(max(1, requests // 400)):  # malformed lines: a cut-off write and a stray binary blob
        i = rng.randrange(len(lines))
        lines[i] = lines[i][: rng.randint(10, 40)] if rng.random() < 0.5 else "\x16\x03\x01\x02\x00 garbage"
    for stamp in BAD_STAMPS:  # and one line with each impossible timestamp
        i = rng.randrange(len(lines))
        lines[i] = re.sub(r"\[[^\]]*\]", f"[{stamp}]", lines[i], count=1)
    path = out / f"web-{index:02d}.log.gz"
    # mtime=0 keeps the gzip header, and so the file, byte-identical between runs.
    data = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    path.write_bytes(data[: len(data) * 3 // 5] if truncate else data)  # a cut file loses its last 40%
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=5, help="the last one's file is truncated")
    parser.add_argument("--requests", type=int, default=2500, help="requests per server")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "logs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for i in range(1, args.servers + 1):
        p = write_server(args.out, i, args.requests, truncate=i == args.servers > 1)
        print(f"{p}: {p.stat().st_size:,} bytes")
