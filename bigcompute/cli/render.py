"""Plans and statuses as tables, JSON or markdown."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from bigcompute.cli.terminal import clean
from bigcompute.runner.plan import Plan

STATUS_WORDS = {"new": "new job", "unchanged": "unchanged (job exists)", "resume": "resume (job half-submitted)",
                "changed": "changed"}


def plan_rows(plan: Plan) -> list[dict]:
    return [{"workload": w.name, "job": w.job_id, "status": w.status, "supersedes": list(w.supersedes),
             "tasks": w.task_count, "pool": w.loaded.workload.pool, "uploadFiles": len(w.sync.missing),
             "uploadBytes": w.sync.missing_bytes, "blobInputs": len(w.sync.blobs), "blobBytes": w.sync.blob_bytes,
             "parameters": dict(w.loaded.workload.parameters), "reused": len(w.reuse), "reuseNote": w.reuse.note or None}
            for w in plan.workloads]


def _workload_text(row: dict) -> str:
    """The workload's name, and the parameter values that make this job (part of its identity)."""
    values = ", ".join(f"{k}={v}" for k, v in row["parameters"].items())
    return f"{row['workload']} ({values})" if values else row["workload"]


def _inputs_text(row: dict) -> str:
    """Files to upload, and the blobs the blob inputs name (read from storage by the tasks, not uploaded)."""
    text = f"{row['uploadFiles']} files, {row['uploadBytes']:,} bytes"
    return f"{text}; blob inputs: {row['blobInputs']} blobs, {row['blobBytes']:,} bytes" if row["blobInputs"] else text


def prune_rows(plan: Plan) -> list[dict]:
    """The jobs `apply --prune` would remove: why, and whether it is active (then only `--force` removes it)."""
    return [{"job": c.job.id, "workload": c.job.workload, "reason": c.reason, "state": c.job.state,
             "active": c.active} for c in plan.prune.candidates]


def _prune_action(row: dict) -> str:
    return "skipped unless --force (active)" if row["active"] else "deleted"


def plan_json(plan: Plan, extra: dict | None = None) -> str:
    """`extra`: more top-level keys (the plan's explanation: target, hasChanges, explanations)."""
    return json.dumps({"workloads": plan_rows(plan), "activeJobs": plan.active_jobs, "quota": plan.quota,
                       "newJobs": plan.new_jobs, "prune": prune_rows(plan),
                       "notPrunable": [j.id for j in plan.prune.unscoped], **(extra or {})}, indent=2) + "\n"


def _status_text(row: dict) -> str:
    text = STATUS_WORDS[row["status"]]
    if row["supersedes"] and row["status"] == "changed":
        text = f"{text}, supersedes {', '.join(row['supersedes'])}"
    if row["status"] in ("new", "changed", "resume") and row["reused"]:  # the task delta
        text += f"; {row['reused']:,} of {row['tasks']:,} tasks unchanged, reused"
    return text


def plan_markdown(plan: Plan) -> str:
    lines = ["| workload | job | status | tasks | inputs to upload |", "|---|---|---|---:|---|"]
    for r in plan_rows(plan):
        name = _workload_text(r).replace("|", "\\|")
        lines.append(f"| {name} | `{r['job']}` | {_status_text(r)} | {r['tasks']:,} | "
                     f"{_inputs_text(r)} |")
    lines.append(f"\nActive jobs: {plan.active_jobs} of a quota of {plan.quota}; this plan adds {plan.new_jobs}.")
    if plan.prune.candidates:
        lines += ["", "With `--prune`:", "", "| job | workload | why | state | with --prune |", "|---|---|---|---|---|"]
        lines += [f"| `{r['job']}` | {r['workload']} | {r['reason']} | {r['state']} | {_prune_action(r)} |"
                  for r in prune_rows(plan)]
    if plan.prune.unscoped:
        lines.append(f"\n{unscoped_note(plan)}")
    return "\n".join(lines) + "\n"


def unscoped_note(plan: Plan) -> str:
    ids = ", ".join(j.id for j in plan.prune.unscoped)
    return (f"never pruned automatically: {ids} (created before jobs recorded their repository and stack); "
            "remove them with `bigcompute delete WORKLOAD`")


def prune_table(plan: Plan) -> Table:
    table = Table(title="with --prune", title_justify="left")
    for col in ("job", "workload", "why", "state", "with --prune"):
        table.add_column(col)
    for r in prune_rows(plan):
        table.add_row(r["job"], r["workload"], r["reason"], r["state"], _prune_action(r))
    return table


def plan_table(plan: Plan) -> Table:
    table = Table(title="bigcompute plan", title_justify="left")
    for col in ("workload", "job", "status", "tasks", "inputs to upload"):
        table.add_column(col, justify="right" if col == "tasks" else "left")
    for r in plan_rows(plan):
        table.add_row(Text(clean(_workload_text(r))), r["job"], _status_text(r), f"{r['tasks']:,}", _inputs_text(r))
    table.caption = f"active jobs {plan.active_jobs}/{plan.quota}; this plan adds {plan.new_jobs}"
    return table


def simple_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
    table = Table(title=title, title_justify="left")
    for c in columns:
        table.add_column(c)
    for row in rows:  # cells may quote what tasks or pools report: plain text, no markup, no control sequences
        table.add_row(*(Text(clean(str(v))) for v in row))
    return table
