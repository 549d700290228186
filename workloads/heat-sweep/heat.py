"""2D heat diffusion in a square plate, explicit finite differences (FTCS) on a cell-centred grid.

    dT/dt = alpha * (d2T/dx2 + d2T/dy2)

The plate (side L) starts at ambient temperature with two hot spots. Its edges are either `insulated`
(no heat crosses them) or `cold` (held at ambient). Boundaries are ghost cells: a mirror of the edge cell
for zero flux, the reflection 2*T_edge - T for a fixed edge temperature.

Two checks come with every run, because both are exact properties of this scheme, not approximations:
- Energy balance: heat in the plate + heat that left through the edges = initial heat (the discrete
  Laplacian sums to the boundary fluxes). With insulated edges nothing leaves: heat is conserved.
- The slowest Fourier mode of the box, sin(kx)sin(ky) for cold edges and cos(kx)cos(ky) for insulated
  ones (k = pi/L), is an eigenvector of the discrete operator: its amplitude decays on its own, by the
  factor g = 1 - alpha*dt*lambda_h per step, which approaches the analytic exp(-2*alpha*k^2*t) as the
  grid is refined.
"""

from __future__ import annotations

import math

import numpy as np

AMBIENT = 20.0  # degrees C
BOUNDARIES = ("insulated", "cold")


def initial_field(n: int, side: float) -> np.ndarray:
    """Ambient plate with a large hot spot (+180 K) and a smaller one (+100 K), off centre."""
    x = (np.arange(n) + 0.5) * side / n
    xx, yy = np.meshgrid(x, x, indexing="ij")

    def spot(cx, cy, width, height):
        return height * np.exp(-((xx - cx * side) ** 2 + (yy - cy * side) ** 2) / (2 * (width * side) ** 2))

    return AMBIENT + spot(0.3, 0.65, 0.07, 180.0) + spot(0.7, 0.3, 0.05, 100.0)


def slowest_mode(n: int, boundary: str) -> np.ndarray:
    theta = (np.arange(n) + 0.5) * math.pi / n  # k*x at the cell centres, k = pi/L
    f = np.sin(theta) if boundary == "cold" else np.cos(theta)
    return np.outer(f, f)


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
    mode = slowest_mode(cells, boundary)
    mode_norm = float((mode * mode).sum())
    cell_area = h * h

    def heat() -> float:  # heat above ambient per (density * heat capacity * thickness), in K m^2
        return float((u - AMBIENT).sum()) * cell_area

    def amplitude() -> float:
        return float(((u - AMBIENT) * mode).sum()) / mode_norm

    def set_ghosts() -> None:
        p[0, 1:-1], p[-1, 1:-1], p[1:-1, 0], p[1:-1, -1] = u[0], u[-1], u[:, 0], u[:, -1]
        if boundary == "cold":  # the edge face sits at AMBIENT: ghost = 2*AMBIENT - edge cell
            for ghost in (p[0, 1:-1], p[-1, 1:-1], p[1:-1, 0], p[1:-1, -1]):
                ghost *= -1
                ghost += 2 * AMBIENT

    heat0, amp0, t_min, t_max = heat(), amplitude(), float(u.min()), float(u.max())
    outflow = 0.0  # heat that crossed the edges so far
    sample_every = max(1, steps // samples)
    series = {"t": [], "peak": [], "mean": [], "heat": [], "amplitude": []}
    for n in range(steps + 1):
        if n % sample_every == 0 or n == steps:
            for key, value in (("t", n * dt), ("peak", float(u.max())), ("mean", float(u.mean())),
                               ("heat", heat()), ("amplitude", amplitude())):
                series[key].append(value)
        if n == steps:
            break
        set_ghosts()
        # Heat entering through the edge faces this step: r * sum(ghost - edge cell) * cell area.
        inflow = (p[0, 1:-1] - u[0]).sum() + (p[-1, 1:-1] - u[-1]).sum() \
            + (p[1:-1, 0] - u[:, 0]).sum() + (p[1:-1, -1] - u[:, -1]).sum()
        outflow -= r * float(inflow) * cell_area
        laplacian = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * u
        u += r * laplacian

    k = math.pi / side
    lambda_h = 2 * (4 / (h * h)) * math.sin(k * h / 2) ** 2  # eigenvalue of the 5-point Laplacian for the mode
    amp_end = amplitude()
    result = {
        "alpha": alpha, "boundary": boundary, "side_m": side, "cells": cells, "seconds": seconds,
        "steps": steps, "dt": dt, "courant": r, "fourier_number": alpha * seconds / side**2,
        "peak_start": t_max, "peak_end": float(u.max()), "mean_end": float(u.mean()),
        "heat_start": heat0, "heat_end": heat(), "heat_out": outflow,
        "heat_retained": heat() / heat0,
        # |heat now + heat that left - heat at start| / heat at start: rounding only
        "energy_balance_error": abs(heat() + outflow - heat0) / abs(heat0),
        "mode_amplitude_start": amp0, "mode_amplitude_end": amp_end,
        "mode_rate": -math.log(amp_end / amp0) / seconds,
        "mode_rate_analytic": 2 * alpha * k * k,
        "mode_rate_discrete": -steps * math.log(1 - alpha * dt * lambda_h) / seconds,
        # the maximum principle: diffusion never makes a new extreme (violated if dt were unstable)
        "within_initial_range": bool(t_min - 1e-9 <= u.min() and u.max() <= t_max + 1e-9),
        "series": series,
    }
    return result, u.copy()
