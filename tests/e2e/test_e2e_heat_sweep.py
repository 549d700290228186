"""heat-sweep: 8 diffusion runs (diffusivity x edge condition), a merge that tabulates and plots them.

The physics is checked, not just the files: heat is conserved with insulated edges, the energy balance
closes with cold ones, and the slowest Fourier mode decays as exp(-2 alpha k^2 t)."""

from __future__ import annotations

import csv
import math
import struct

ALPHAS = [1.11e-4, 3.4e-5, 1.17e-5, 4.2e-6]
SIDE, CELLS, SECONDS = 0.1, 64, 30.0


def test_heat_sweep_conserves_heat_and_matches_the_analytic_decay(run_workload):
    run = run_workload("heat-sweep")
    assert f"{run.name}: all 9 tasks succeeded" in run.output

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
        retained = float(r["heat_retained"])
        if boundary == "insulated":
            assert abs(retained - 1) < 1e-10  # nothing crosses an insulated edge
        else:
            assert 0 < retained < 0.999  # heat leaves through edges held at ambient
        # The slowest mode decays at the analytic rate 2*alpha*k^2, up to the grid's O(h^2) + O(dt) error
        # (about 3e-4 here), and at the scheme's own discrete rate to rounding.
        analytic = 2 * alpha * k * k
        assert math.isclose(float(r["mode_rate_analytic"]), analytic, rel_tol=1e-12)
        assert abs(float(r["mode_rate"]) / analytic - 1) < 1e-3
        assert abs(float(r["mode_rate"]) / float(r["mode_rate_discrete"]) - 1) < 1e-8
        # Diffusion makes no new extremes: the peak only falls, and stays above ambient (20 C).
        assert 20 <= float(r["peak_end"]) < float(r["peak_start"])

    # Faster diffusion, cooler plate: with cold edges, retained heat falls as alpha rises.
    cold = sorted((float(r["alpha"]), float(r["heat_retained"])) for r in rows if r["boundary"] == "cold")
    assert [h for _, h in cold] == sorted((h for _, h in cold), reverse=True)

    png = (run.out / "merge" / "heat-sweep.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 600 and height > 250 and len(png) < 150_000
