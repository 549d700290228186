"""Merge: tabulate every run (summary.csv) and plot final fields and decay curves (heat-sweep.png).

Runs come from $BIGCOMPUTE_TASK_OUTPUTS/<task id>/run.json and field.npy.
"""

import argparse
import csv
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a compute node
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

COLUMNS = ["alpha", "boundary", "steps", "dt", "fourier_number", "peak_start", "peak_end", "mean_end",
           "heat_retained", "energy_balance_error", "slowest_mode", "slowest_mode_rate",
           "slowest_mode_rate_analytic", "slowest_mode_rate_discrete"]

parser = argparse.ArgumentParser()
parser.add_argument("--out", type=Path, default=Path("summary"))
args = parser.parse_args()

folder = Path(os.environ["BIGCOMPUTE_TASK_OUTPUTS"])
runs = []
for path in folder.glob("*/run.json"):
    run = json.loads(path.read_text())
    run["field"] = np.load(path.with_name("field.npy"))
    runs.append(run)
if not runs:
    raise SystemExit(f"no runs under {folder}")
boundaries = sorted({r["boundary"] for r in runs}, reverse=True)  # insulated first
alphas = sorted({r["alpha"] for r in runs}, reverse=True)  # fastest diffusion first
runs.sort(key=lambda r: (boundaries.index(r["boundary"]), alphas.index(r["alpha"])))

args.out.mkdir(parents=True, exist_ok=True)
with open(args.out / "summary.csv", "w", newline="") as f:
    writer = csv.DictWriter(f, COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(runs)
for r in runs:
    print(f"alpha={r['alpha']:<9g} {r['boundary']:<9} peak {r['peak_end']:6.1f} C  heat retained "
          f"{r['heat_retained']:8.5f}  balance error {r['energy_balance_error']:.1e}  slowest mode "
          f"{r['slowest_mode']} {r['slowest_mode_rate']:.5g}/s vs analytic {r['slowest_mode_rate_analytic']:.5g}/s "
          f"({r['slowest_mode_rate'] / r['slowest_mode_rate_analytic'] - 1:+.1e})")

# Final temperature fields: one row per boundary, one column per diffusivity, one colour scale. The last
# column shows the heat left in the plate over time, and the slowest mode's decay against its analytic rate:
# exp(-2 alpha k^2 t) for sin(kx)sin(ky) with cold edges, exp(-alpha k^2 t) for cos(kx) with insulated ones.
fig = plt.figure(figsize=(2.1 * len(alphas) + 4.4, 2.1 * len(boundaries) + 0.7), dpi=80, layout="constrained")
grid = fig.add_gridspec(len(boundaries), len(alphas) + 1, width_ratios=[1] * len(alphas) + [1.9])
vmin, vmax = min(float(r["field"].min()) for r in runs), max(r["peak_end"] for r in runs)
colours = plt.cm.viridis(np.linspace(0, 0.85, len(alphas)))
for row, boundary in enumerate(boundaries):
    for r in (r for r in runs if r["boundary"] == boundary):
        col = alphas.index(r["alpha"])
        ax = fig.add_subplot(grid[row, col])
        image = ax.imshow(r["field"].T, origin="lower", cmap="inferno", vmin=vmin, vmax=vmax)
        ax.set_xticks([])
        ax.set_yticks([])
        if row == 0:
            ax.set_title(f"α = {r['alpha']:.2e} m²/s", fontsize=9)
        if col == 0:
            ax.set_ylabel(f"{boundary} edges", fontsize=9)
fig.colorbar(image, ax=fig.axes, location="left", shrink=0.8, label=f"°C after {runs[0]['seconds']:g} s")

heat_plot, mode_plot = fig.add_subplot(grid[0, -1]), fig.add_subplot(grid[-1, -1])
for r in runs:
    s, c = r["series"], colours[alphas.index(r["alpha"])]
    t = np.array(s["t"])
    style = "-" if r["boundary"] == "cold" else "--"
    heat_plot.plot(t, np.array(s["heat"]) / s["heat"][0], style, color=c, lw=1.2,
                   label=f"{r['alpha']:.2e}" if r["boundary"] == "cold" else None)
    every = max(1, len(t) // 15)
    amplitude = np.array(s["slowest_mode_amplitude"])
    mode_plot.semilogy(t[::every], (amplitude / amplitude[0])[::every],
                       "o" if r["boundary"] == "cold" else "x", ms=3.5, color=c)
    mode_plot.semilogy(t, np.exp(-r["slowest_mode_rate_analytic"] * t), "-", lw=0.8, color=c)
heat_plot.set_title("heat in the plate (cold edges —, insulated --)", fontsize=8)
heat_plot.legend(title="α (m²/s)", fontsize=7, title_fontsize=7)
heat_plot.set_ylim(0, 1.05)
mode_plot.set_title("slowest mode: o sin(kx)sin(ky) cold, x cos(kx) insul.\n"
                    "lines: analytic exp(-2αk²t), exp(-αk²t)", fontsize=8)
mode_plot.set_xlabel("t (s)", fontsize=8)
for ax in (heat_plot, mode_plot):
    ax.tick_params(labelsize=7)
fig.suptitle(f"Heat diffusion in a {runs[0]['side_m'] * 100:g} cm plate: two hot spots "
             f"({max(r['peak_start'] for r in runs):.0f} °C peak) at t = 0", fontsize=10)
fig.savefig(args.out / "heat-sweep.png", pil_kwargs={"optimize": True})
print(f"wrote {args.out / 'summary.csv'} and {args.out / 'heat-sweep.png'}")
