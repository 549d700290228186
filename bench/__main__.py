"""`python -m bench [NAMES...]`: run the benchmarks and write bench/RESULTS.md."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path

from bench.harness import Figure, machine

HEADER = "| figure | measured | floor (same run) | ratio | target | verdict |\n|---|---|---|---|---|---|"


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if argv:
        names = [n for n in names if any(a in n for a in argv)]
    sections: list[str] = []
    for name in names:
        print(f"== {name}", flush=True)
        figures: list[Figure] = importlib.import_module(f"bench.{name}").run()
        for fig in figures:
            print(fig.line(), flush=True)
        sections.append(f"## {name}\n\n{HEADER}\n" + "\n".join(f.line() for f in figures))
    if not argv:
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        body = "\n\n".join(sections)
        (here / "RESULTS.md").write_text(
            f"# Benchmark results\n\nRun {stamp} on {machine()}.\n"
            "Each figure stands beside a floor measured in the same run.\n\n" + body + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
