"""PNG of a simulation: queue length on top, target and ready nodes below (matplotlib, Agg backend).

Uses a Figure with its own Agg canvas rather than pyplot, so nothing global (backends, open figures)
is touched and it works with no display.
"""

from __future__ import annotations

from typing import BinaryIO

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bigcompute.autoscale.simreport import SimResult


def figure(result: SimResult, title: str = "") -> Figure:
    s = result.series
    hours = [t / 3600.0 for t in s["time_s"]]
    fig = Figure(figsize=(11, 6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    queue, nodes = fig.subplots(2, 1, sharex=True, height_ratios=(1, 1.3))
    queue.step(hours, s["active_tasks"], where="post", label="queued tasks", color="tab:orange")
    queue.step(hours, s["running_tasks"], where="post", label="running tasks", color="tab:green", alpha=0.7)
    queue.set_ylabel("tasks")
    queue.legend(loc="upper right")
    ready = [a + b for a, b in zip(s["ready_dedicated"], s["ready_low_priority"], strict=True)]
    target = [a + b for a, b in zip(s["target_dedicated"], s["target_low_priority"], strict=True)]
    nodes.step(hours, target, where="post", label="target nodes", color="tab:blue", linestyle="--")
    nodes.step(hours, ready, where="post", label="ready nodes", color="tab:blue")
    if any(s["target_low_priority"]) or any(s["ready_low_priority"]):
        nodes.step(hours, s["ready_low_priority"], where="post", label="ready spot nodes", color="tab:purple",
                   alpha=0.7)
    if any(s["preempted_nodes"]):
        nodes.step(hours, s["preempted_nodes"], where="post", label="preempted", color="tab:red", alpha=0.6)
    nodes.set_ylabel("nodes")
    nodes.set_xlabel(f"hours since {result.start:%Y-%m-%d %H:%M} UTC")
    nodes.legend(loc="upper right")
    for ax in (queue, nodes):
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
    if title:
        fig.suptitle(title)
    return fig


def save_png(result: SimResult, out: str | BinaryIO, title: str = "") -> None:
    figure(result, title).savefig(out, format="png")
