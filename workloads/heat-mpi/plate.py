"""The heat plate of heat-sweep, decomposed across MPI ranks: each rank owns a band of rows and trades its edge
rows with its neighbours (halo exchange) before every step.

The scheme is heat-sweep's (heat.py: FTCS on a cell-centred grid, ghost cells for the edge condition) and so is
every formula: the initial field, the step count, the ghost rules and the 5-point Laplacian, applied to a rank's
band plus one halo row on each side. A cell's update reads the same neighbours in the same order as the
single-process run, so the gathered field must equal heat-sweep's solution bit for bit (compare.py checks it).

Run under mpirun; rank 0 gathers the field and writes <out>/field.npy and <out>/run.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from mpi4py import MPI

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "heat-sweep"))
from heat import AMBIENT, GHOSTS, initial_field, plate_arguments  # noqa: E402


def bands(cells: int, ranks: int) -> list[tuple[int, int]]:
    """Rows [start, stop) of each rank: as even as integers allow, every rank at least one row."""
    edges = [cells * r // ranks for r in range(ranks + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def solve(comm: MPI.Comm, alpha: float, boundary: str, side: float, cells: int, seconds: float,
          safety: float = 0.8) -> tuple[np.ndarray | None, dict]:
    rank, size = comm.Get_rank(), comm.Get_size()
    if size > cells:
        raise SystemExit(f"{size} ranks for {cells} rows: every rank needs at least one row")
    start, stop = bands(cells, size)[rank]
    h = side / cells
    steps = math.ceil(seconds / (safety * h * h / (4 * alpha)))  # heat.simulate's step count and dt
    dt = seconds / steps
    r = alpha * dt / (h * h)

    p = np.empty((stop - start + 2, cells + 2))  # the band, a halo/ghost row above and below, ghost columns
    u = p[1:-1, 1:-1]
    u[:] = initial_field(cells, side)[start:stop]
    up, down = (rank - 1 if rank > 0 else MPI.PROC_NULL), (rank + 1 if rank < size - 1 else MPI.PROC_NULL)
    for _ in range(steps):
        GHOSTS[boundary](p)  # the plate's edges; the rows a neighbour owns are overwritten just below
        comm.Sendrecv(u[0].copy(), dest=up, recvbuf=(row := np.empty(cells)), source=down)
        if down != MPI.PROC_NULL:
            p[-1, 1:-1] = row
        comm.Sendrecv(u[-1].copy(), dest=down, recvbuf=(row := np.empty(cells)), source=up)
        if up != MPI.PROC_NULL:
            p[0, 1:-1] = row
        laplacian = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * u
        u += r * laplacian

    heat = comm.allreduce(float((u - AMBIENT).sum()) * h * h)
    hosts = comm.gather(MPI.Get_processor_name())
    parts = comm.gather(u.copy())
    run = {"alpha": alpha, "boundary": boundary, "side_m": side, "cells": cells, "seconds": seconds,
           "steps": steps, "dt": dt, "ranks": size, "bands": bands(cells, size), "hosts": hosts, "heat_end": heat}
    return (np.concatenate(parts) if rank == 0 else None), run


def main() -> None:
    parser = plate_arguments(argparse.ArgumentParser())
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    field, run = solve(comm, args.alpha, args.boundary, args.side, args.cells, args.seconds)
    if field is None:
        return
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "field.npy", field)
    (args.out / "run.json").write_text(json.dumps(run, indent=1) + "\n")
    print(f"{args.boundary}: {run['steps']} steps on {run['ranks']} ranks over {len(set(run['hosts']))} host(s), "
          f"bands {run['bands']}, peak {field.max():.3f} C")


if __name__ == "__main__":
    main()
