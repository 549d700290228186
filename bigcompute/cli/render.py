"""Plans and statuses as tables, JSON or markdown."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from bigcompute.cli.terminal import clean
from bigcompute.runner.api import PlanResult

STATUS_WORDS = {"new": "new job", "unchanged": "unchanged (job exists)", "resume": "resume (job half-submitted)",
                "changed": "changed"}


def plan_rows(plan: PlanResult) -> list[dict]:
    return [{"workload": w.workload, "job": w.job, "status": w.status, "supersedes": list(w.supersedes),
             "tasks": w.tasks, "pool": w.pool, "uploadFiles": w.upload_files, "uploadBytes": w.upload_bytes,
             "blobInputs": w.blob_inputs, "blobBytes": w.blob_bytes, "parameters": w.parameters, "reused": w.reused,
             "reuseNote": w.reuse_note} for w in plan.workloads]


def _workload_text(row: dict) -> str:
    """The workload's name, and the parameter values that make this job (part of its identity)."""
    values = ", ".join(f"{k}={v}" for k, v in row["parameters"].items())
    return f"{row['workload']} ({values})" if values else row["workload"]


def _inputs_text(row: dict) -> str:
    """Files to upload, and the blobs the blob inputs name (read from storage by the tasks, not uploaded)."""
    text = f"{row['uploadFiles']} files, {row['uploadBytes']:,} bytes"
    return f"{text}; blob inputs: {row['blobInputs']} blobs, {row['blobBytes']:,} bytes" if row["blobInputs"] else text


def prune_rows(plan: PlanResult) -> list[dict]:
    """The jobs `apply --prune` would remove: why, and whether it is active (then only `--force` removes it)."""
    return [{"job": c.job, "workload": c.workload, "reason": c.reason, "state": c.state, "active": c.active}
            for c in plan.prune]


def _prune_action(row: dict) -> str:
    return "skipped unless --force (active)" if row["active"] else "deleted"


def plan_json(plan: PlanResult, extra: dict | None = None) -> str:
    """`extra`: more top-level keys (the plan's explanation: target, hasChanges, explanations)."""
    return json.dumps({"workloads": plan_rows(plan), "activeJobs": plan.active_jobs, "quota": plan.quota,
                       "newJobs": plan.new_jobs, "prune": prune_rows(plan),
                       "notPrunable": list(plan.not_prunable), **(extra or {})}, indent=2) + "\n"


def _status_text(row: dict) -> str:
    text = STATUS_WORDS[row["status"]]
    if row["supersedes"] and row["status"] == "changed":
        text = f"{text}, supersedes {', '.join(row['supersedes'])}"
    if row["status"] in ("new", "changed", "resume") and row["reused"]:  # the task delta
        text += f"; {row['reused']:,} of {row['tasks']:,} tasks unchanged, reused"
    return text


def plan_markdown(plan: PlanResult) -> str:
    lines = ["| workload | job | status | tasks | inputs to upload |", "|---|---|---|---:|---|"]
    for r in plan_rows(plan):
        name = _workload_text(r).replace("|", "\\|")
        lines.append(f"| {name} | `{r['job']}` | {_status_text(r)} | {r['tasks']:,} | "
                     f"{_inputs_text(r)} |")
    lines.append(f"\nActive jobs: {plan.active_jobs} of a quota of {plan.quota}; this plan adds {plan.new_jobs}.")
    if plan.prune:
        lines += ["", "With `--prune`:", "", "| job | workload | why | state | with --prune |", "|---|---|---|---|---|"]
        lines += [f"| `{r['job']}` | {r['workload']} | {r['reason']} | {r['state']} | {_prune_action(r)} |"
                  for r in prune_rows(plan)]
    if plan.not_prunable:
        lines.append(f"\n{unscoped_note(plan)}")
    return "\n".join(lines) + "\n"


def unscoped_note(plan: PlanResult) -> str:
    ids = ", ".join(plan.not_prunable)
    return (f"never pruned automatically: {ids} (created before jobs recorded their repository and stack); "
            "remove them with `bigcompute delete WORKLOAD`")


def prune_table(plan: PlanResult) -> Table:
    table = Table(title="with --prune", title_justify="left")
    for col in ("job", "workload", "why", "state", "with --prune"):
        table.add_column(col)
    for r in prune_rows(plan):
        table.add_row(r["job"], r["workload"], r["reason"], r["state"], _prune_action(r))
    return table


def plan_table(plan: PlanResult) -> Table:
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
