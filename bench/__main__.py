"""`python -m bench [--scale F] [NAMES...]`: run the benchmarks and write bench/RESULTS.md.

NAMES picks modules by substring (`python -m bench emulator million`); `--scale 0.1` runs every size at a
tenth for a quick check. Only a full run at scale 1 writes RESULTS.md, so its rows all come from one run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import time
import traceback
from pathlib import Path

from bench.harness import Figure, loadavg, machine, scale

HEADER = ("| figure | measured | floor (same run) | ratio | target | verdict | load (1 min) |\n"
          "|---|---|---|---|---|---|---|")


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="run only the modules whose name contains one of these")
    parser.add_argument("--scale", type=float, default=None, help="multiply every size by this (quick checks)")
    return parser.parse_args(argv)


def _section(name: str, module, figures: list[Figure]) -> str:  # noqa: ANN001
    notes = getattr(module, "NOTES", "").strip()
    body = f"## {name}\n\n{HEADER}\n" + "\n".join(f.line() for f in figures)
    return body + (f"\n\n{notes}" if notes else "")


def main(argv: list[str]) -> int:
    args = _arguments(argv)
    if args.scale is not None:
        os.environ["BENCH_SCALE"] = str(args.scale)  # children of the benchmarks read it too
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if args.names:
        names = [n for n in names if any(a in n for a in args.names)]
    sections: list[str] = []
    start, loads = time.gmtime(), [loadavg()]
    for name in names:
        print(f"== {name} (load {loadavg():.1f})", flush=True)
        module = importlib.import_module(f"bench.{name}")
        try:
            figures: list[Figure] = module.run()
        except Exception as e:  # one broken benchmark must not lose the run's other rows: it shows as a row
            traceback.print_exc()
            figures = [Figure(f"{name} failed: {type(e).__name__}: {str(e).splitlines()[-1][:300]}", float("nan"), "",
                              met=False)]
        for fig in figures:
            print(fig.line(), flush=True)
            loads.append(fig.load)
        sections.append(_section(name, module, figures))
    if not args.names and scale() == 1:
        span = f"{time.strftime('%Y-%m-%d %H:%M', start)}–{time.strftime('%H:%M UTC', time.gmtime())}"
        (here / "RESULTS.md").write_text(
            f"# Benchmark results\n\nOne `make bench` run, {span}, on {machine()}.\n"
            "Each figure stands beside a floor measured in the same run. The last column is the 1-minute load "
            f"average when the figure was taken (from {min(loads):.1f} to {max(loads):.1f} in this run); "
            "above the core count, other processes shared the cores and the figure is marked as measured "
            "under load.\n\n" + "\n\n".join(sections) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
