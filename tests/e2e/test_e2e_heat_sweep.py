"""heat-sweep: 8 diffusion runs (diffusivity x edge condition), a merge that tabulates and plots them.

The physics is checked, not just the files: heat is conserved with insulated edges, the energy balance
closes with cold ones, and the slowest Fourier mode decays at its analytic rate: sin(kx)sin(ky) as
exp(-2 alpha k^2 t) with cold edges, cos(kx) as exp(-alpha k^2 t) with insulated ones. Each run gates
itself on the scheme's exact mode-rate identity, so a wrong boundary condition fails the run."""

from __future__ import annotations

import csv
import io
import math
import runpy
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

FOLDER = Path(__file__).resolve().parents[2] / "workloads" / "heat-sweep"
ALPHAS = [1.11e-4, 3.4e-5, 1.17e-5, 4.2e-6]
SIDE, CELLS, SECONDS = 0.1, 64, 30.0


def plate_heat(field: np.ndarray) -> float:
    """Heat above ambient (20 C) per (density * heat capacity * thickness), in K m^2: the field summed over cells."""
    return float((field - 20.0).sum()) * (SIDE / CELLS) ** 2


def final_fields(clients, run) -> dict[str, np.ndarray]:
    """Each run's final temperature field, as its task uploaded it (field.npy), by task id."""
    [job] = [j.id for j in clients.batch.list_jobs() if j.id.startswith(f"{run.name}-")]
    outputs = clients.container("outputs")
    return {b.name.split("/")[1]: np.load(io.BytesIO(outputs.download_blob(b.name).readall()))
            for b in outputs.list_blobs(name_starts_with=f"{job}/") if b.name.endswith("/field.npy")}


def test_heat_sweep_conserves_heat_and_matches_the_analytic_decay(run_workload, clients):
    run = run_workload("heat-sweep")
    assert f"{run.name}: all 9 tasks succeeded" in run.output

    # Conservation recomputed here from the raw fields, not read from the runs' own report: with insulated edges
    # the plate ends with the heat it started with; with cold edges heat leaves. Only the starting field comes
    # from the workload's code (its two hot spots).
    sys.path.insert(0, str(FOLDER))
    try:
        from heat import initial_field
    finally:
        sys.path.remove(str(FOLDER))
    start = plate_heat(initial_field(CELLS, SIDE))
    fields = final_fields(clients, run)
    assert sorted(fields) == sorted(f"run-{i:02d}-{b}" for i in range(8) for b in ("insulated", "cold")
                                    if (i % 2 == 0) == (b == "insulated"))
    retained_here = {}
    for task, field in fields.items():
        assert field.shape == (CELLS, CELLS)
        retained_here[task] = plate_heat(field) / start
        if task.endswith("insulated"):
            assert abs(retained_here[task] - 1) < 1e-10
        else:
            assert 0 < retained_here[task] < 0.999

    rows = list(csv.DictReader((run.out / "merge" / "summary.csv").open()))
    assert sorted((float(r["alpha"]), r["boundary"]) for r in rows) == \
        sorted((a, b) for a in ALPHAS for b in ("insulated", "cold"))
    k = math.pi / SIDE
    for r in rows:
        alpha, boundary = float(r["alpha"]), r["boundary"]
        # The run used a stable step and ended at the requested time.
        h = SIDE / CELLS
        assert alpha * float(r["dt"]) / h**2 <= 0.25
        assert math.isclose(int(r["steps"]) * float(r["dt"]), SECONDS, rel_tol=1e-12)
        # Energy balance to rounding: heat left in the plate + heat out through the edges = heat at start.
        assert float(r["energy_balance_error"]) < 1e-10
        # The report's heat retained is the one recomputed above from that run's field.
        task = f"run-{2 * ALPHAS.index(alpha) + (boundary == 'cold'):02d}-{boundary}"
        assert math.isclose(float(r["heat_retained"]), retained_here[task], rel_tol=1e-9, abs_tol=1e-12)
        # The slowest mode decays at its analytic rate, up to the grid's O(h^2) + O(dt) error (at most
        # about 3e-4 here), and at the scheme's own discrete rate to rounding. With insulated edges the
        # slowest modes are cos(kx) and cos(ky), at half the rate of cold edges' sin(kx)sin(ky).
        mode, analytic = {"insulated": ("cos(kx)", alpha * k * k), "cold": ("sin(kx)sin(ky)", 2 * alpha * k * k)}[boundary]
        assert r["slowest_mode"] == mode
        assert math.isclose(float(r["slowest_mode_rate_analytic"]), analytic, rel_tol=1e-12)
        assert abs(float(r["slowest_mode_rate"]) / analytic - 1) < 1e-3
        assert abs(float(r["slowest_mode_rate"]) / float(r["slowest_mode_rate_discrete"]) - 1) < 1e-8
        # Diffusion makes no new extremes: the peak only falls, and stays above ambient (20 C).
        assert 20 <= float(r["peak_end"]) < float(r["peak_start"])

    # Faster diffusion, cooler plate: with cold edges, retained heat falls as alpha rises.
    cold = sorted((float(r["alpha"]), float(r["heat_retained"])) for r in rows if r["boundary"] == "cold")
    assert [h for _, h in cold] == sorted((h for _, h in cold), reverse=True)

    png = (run.out / "merge" / "heat-sweep.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 600 and height > 250 and len(png) < 150_000


def run_simulate(tmp_path: Path, boundary: str) -> None:
    """Run simulate.py in this process (a small, short run), so a test can swap its ghost-cell rules."""
    argv = ["simulate.py", "--alpha", "1e-4", "--boundary", boundary, "--cells", "16", "--seconds", "5",
            "--out", str(tmp_path)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", argv)
        patch.syspath_prepend(str(FOLDER))
        runpy.run_path(str(FOLDER / "simulate.py"), run_name="__main__")


def test_the_right_boundary_conditions_pass_their_own_gate(tmp_path):
    for boundary in ("insulated", "cold"):
        run_simulate(tmp_path, boundary)
        assert (tmp_path / "run.json").exists()


@pytest.mark.parametrize("boundary, wrong_rule", [
    ("cold", "mirror_ghosts"),  # zero flux where the edge is held at ambient: energy still balances
    ("cold", "ambient_at_ghost_centre"),  # the edge temperature half a cell too far out
    ("insulated", "ambient_ghosts"),  # heat leaves an insulated plate (and is accounted for)
])
def test_a_wrong_boundary_condition_fails_the_run_itself(tmp_path, monkeypatch, boundary, wrong_rule):
    monkeypatch.syspath_prepend(str(FOLDER))
    import heat

    def ambient_at_ghost_centre(p):
        p[0, 1:-1] = p[-1, 1:-1] = p[1:-1, 0] = p[1:-1, -1] = heat.AMBIENT

    rule = ambient_at_ghost_centre if wrong_rule == "ambient_at_ghost_centre" else getattr(heat, wrong_rule)
    monkeypatch.setitem(heat.GHOSTS, boundary, rule)
    with pytest.raises(SystemExit, match="wrong boundary condition"):
        run_simulate(tmp_path, boundary)
    assert not (tmp_path / "run.json").exists()  # nothing written for the merge to trust
