"""2D heat diffusion in a square plate, explicit finite differences (FTCS) on a cell-centred grid.

    dT/dt = alpha * (d2T/dx2 + d2T/dy2)

The plate (side L) starts at ambient temperature with two hot spots. Its edges are either `insulated`
(no heat crosses them) or `cold` (held at ambient). Boundaries are ghost cells: a mirror of the edge cell
for zero flux, the reflection 2*T_edge - T for a fixed edge temperature.

Two checks come with every run, because both are exact properties of this scheme, not approximations:
- Energy balance: heat in the plate + heat that left through the edges = initial heat (the discrete
  Laplacian sums to the boundary fluxes). With insulated edges nothing leaves: heat is conserved.
- Fourier modes of the box are eigenvectors of the discrete operator, for the right boundary condition
  only: sin(pkx)sin(qky) with cold edges, cos(pkx)cos(qky) with insulated ones (k = pi/L). Each mode's
  amplitude decays on its own, by the factor g = 1 - alpha*dt*lambda_h per step, which approaches the
  analytic exp(-alpha*(p^2+q^2)*k^2*t) as the grid is refined. With cold edges the slowest mode is
  sin(kx)sin(ky) (rate 2*alpha*k^2); with insulated edges the uniform field never decays and the slowest
  modes are cos(kx) and cos(ky) (rate alpha*k^2), while cos(kx)cos(ky) decays twice as fast. Each run
  measures the modes named in MODES and must match the discrete identity to rounding (`check`): a wrong
  ghost-cell rule makes them mix, and the run fails.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

AMBIENT = 20.0  # degrees C
BOUNDARIES = ("insulated", "cold")


def plate_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The plate's command-line arguments, shared by every program that simulates it (simulate.py, heat-mpi)."""
    parser.add_argument("--alpha", type=float, required=True, help="thermal diffusivity, m^2/s")
    parser.add_argument("--boundary", choices=BOUNDARIES, required=True)
    parser.add_argument("--side", type=float, default=0.1, help="plate side, m")
    parser.add_argument("--cells", type=int, default=64, help="grid cells per side")
    parser.add_argument("--seconds", type=float, default=30.0, help="simulated time, s")
    return parser


def initial_field(n: int, side: float) -> np.ndarray:
    """Ambient plate with a large hot spot (+180 K) and a smaller one (+100 K), off centre."""
    x = (np.arange(n) + 0.5) * side / n
    xx, yy = np.meshgrid(x, x, indexing="ij")

    def spot(cx, cy, width, height):
        return height * np.exp(-((xx - cx * side) ** 2 + (yy - cy * side) ** 2) / (2 * (width * side) ** 2))

    return AMBIENT + spot(0.3, 0.65, 0.07, 180.0) + spot(0.7, 0.3, 0.05, 100.0)


# The modes each run measures, as (p, q) half-wave counts along x and y; the first is the slowest.
MODES = {"cold": {"sin(kx)sin(ky)": (1, 1)},
         "insulated": {"cos(kx)": (1, 0), "cos(ky)": (0, 1), "cos(kx)cos(ky)": (1, 1)}}
MODE_RATE_TOLERANCE = 1e-8  # relative; the identity is exact, so only rounding is allowed


def mode_shape(n: int, boundary: str, p: int, q: int) -> np.ndarray:
    theta = (np.arange(n) + 0.5) * math.pi / n  # k*x at the cell centres, k = pi/L
    wave = np.sin if boundary == "cold" else np.cos
    return np.outer(wave(p * theta), wave(q * theta))


def mirror_ghosts(p: np.ndarray) -> None:
    """Zero flux across the edge: each ghost cell mirrors its edge cell."""
    p[0, 1:-1], p[-1, 1:-1], p[1:-1, 0], p[1:-1, -1] = p[1, 1:-1], p[-2, 1:-1], p[1:-1, 1], p[1:-1, -2]


def ambient_ghosts(p: np.ndarray) -> None:
    """The edge face held at AMBIENT: ghost = 2*AMBIENT - edge cell, so their mean on the face is AMBIENT."""
    mirror_ghosts(p)
    for ghost in (p[0, 1:-1], p[-1, 1:-1], p[1:-1, 0], p[1:-1, -1]):
        ghost *= -1
        ghost += 2 * AMBIENT


GHOSTS = {"insulated": mirror_ghosts, "cold": ambient_ghosts}


def simulate(alpha: float, boundary: str, side: float = 0.1, cells: int = 64, seconds: float = 60.0,
             safety: float = 0.8, samples: int = 120) -> tuple[dict, np.ndarray]:
    """Run to `seconds`; return the time series, checks and summary numbers, and the final field."""
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, not {boundary!r}")
    h = side / cells
    # FTCS in 2D is stable for alpha*dt/h^2 <= 1/4; `safety` keeps us below the limit, and the step count
    # is rounded up so that the run ends exactly at `seconds`.
    steps = math.ceil(seconds / (safety * h * h / (4 * alpha)))
    dt = seconds / steps
    r = alpha * dt / (h * h)

    p = np.empty((cells + 2, cells + 2))  # the field with one ghost cell on each side
    u = p[1:-1, 1:-1]  # a view: updating u updates p
    u[:] = initial_field(cells, side)
    modes = {name: mode_shape(cells, boundary, *pq) for name, pq in MODES[boundary].items()}
    cell_area = h * h

    def heat() -> float:  # heat above ambient per (density * heat capacity * thickness), in K m^2
        return float((u - AMBIENT).sum()) * cell_area

    def amplitudes() -> dict[str, float]:
        return {name: float(((u - AMBIENT) * m).sum() / (m * m).sum()) for name, m in modes.items()}

    heat0, amp0, t_min, t_max = heat(), amplitudes(), float(u.min()), float(u.max())
    outflow = 0.0  # heat that crossed the edges so far
    sample_every = max(1, steps // samples)
    slowest = next(iter(MODES[boundary]))  # with insulated edges, cos(ky) is as slow as cos(kx)
    series = {"t": [], "peak": [], "mean": [], "heat": [], "slowest_mode_amplitude": []}
    for n in range(steps + 1):
        if n % sample_every == 0 or n == steps:
            for key, value in (("t", n * dt), ("peak", float(u.max())), ("mean", float(u.mean())),
                               ("heat", heat()),
                               ("slowest_mode_amplitude", amplitudes()[slowest])):
                series[key].append(value)
        if n == steps:
            break
        GHOSTS[boundary](p)
        # Heat entering through the edge faces this step: r * sum(ghost - edge cell) * cell area.
        inflow = (p[0, 1:-1] - u[0]).sum() + (p[-1, 1:-1] - u[-1]).sum() \
            + (p[1:-1, 0] - u[:, 0]).sum() + (p[1:-1, -1] - u[:, -1]).sum()
        outflow -= r * float(inflow) * cell_area
        laplacian = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * u
        u += r * laplacian

    amp_end = amplitudes()
    result = {
        "alpha": alpha, "boundary": boundary, "side_m": side, "cells": cells, "seconds": seconds,
        "steps": steps, "dt": dt, "courant": r, "fourier_number": alpha * seconds / side**2,
        "peak_start": t_max, "peak_end": float(u.max()), "mean_end": float(u.mean()),
        "heat_start": heat0, "heat_end": heat(), "heat_out": outflow,
        "heat_retained": heat() / heat0,
        # |heat now + heat that left - heat at start| / heat at start: rounding only
        "energy_balance_error": abs(heat() + outflow - heat0) / abs(heat0),
        "modes": {name: mode_rates(alpha, side, h, dt, steps, pq, amp0[name], amp_end[name])
                  for name, pq in MODES[boundary].items()},
        "slowest_mode": slowest,
        # the maximum principle: diffusion never makes a new extreme (violated if dt were unstable)
        "within_initial_range": bool(t_min - 1e-9 <= u.min() and u.max() <= t_max + 1e-9),
        "series": series,
    }
    # the slowest mode's rates as flat columns for the summary table
    result.update({f"slowest_mode_{key}": value for key, value in result["modes"][slowest].items()
                   if key.startswith("rate")})
    return result, u.copy()


def mode_rates(alpha: float, side: float, h: float, dt: float, steps: int, pq: tuple[int, int],
               amp_start: float, amp_end: float) -> dict:
    """A mode's measured decay rate, its analytic rate alpha*(p^2+q^2)*k^2, and the scheme's exact rate."""
    k = math.pi / side
    # eigenvalue of the 5-point Laplacian for the (p, q) mode, on either cell-centred basis
    lambda_h = (4 / (h * h)) * sum(math.sin(n * k * h / 2) ** 2 for n in pq)
    return {"p": pq[0], "q": pq[1], "amplitude_start": amp_start, "amplitude_end": amp_end,
            "rate": -math.log(amp_end / amp_start) / (steps * dt),
            "rate_analytic": alpha * (pq[0] ** 2 + pq[1] ** 2) * k * k,
            "rate_discrete": -steps * math.log(1 - alpha * dt * lambda_h) / (steps * dt)}


def check(result: dict) -> list[str]:
    """What makes a run untrustworthy: the exact properties of the scheme that it broke (NaN breaks all)."""
    problems = []
    if not result["energy_balance_error"] <= 1e-9:
        problems.append(f"energy balance error {result['energy_balance_error']:.1e} > 1e-9")
    if not result["within_initial_range"]:
        problems.append("the field left its initial range (maximum principle)")
    for name, m in result["modes"].items():
        if not abs(m["rate"] / m["rate_discrete"] - 1) <= MODE_RATE_TOLERANCE:
            problems.append(f"mode {name} decays at {m['rate']:.6g}/s, the scheme's exact rate for "
                            f"{result['boundary']} edges is {m['rate_discrete']:.6g}/s: wrong boundary condition?")
    return problems
