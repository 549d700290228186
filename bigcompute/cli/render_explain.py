"""A plan's explanation (runner.explain) for people and machines: the header naming where the plan runs, what
changed in each changed workload, what becomes of the jobs it supersedes, and the cost of the run."""

from __future__ import annotations

from typing import Any

Explanation = Any  # runner.explain.Explanation, as PlanResult.explanation carries it


def header_line(e: Explanation) -> str:
    return f"plan: {e.header.text()}"


def _change_text(w) -> str | None:
    if w.change is not None:
        return w.change.text()
    return f"unknown: {w.change_unknown}" if w.change_unknown else None


def _cost_lines(e: Explanation) -> tuple[list[str], list[str]]:
    """(cost lines, the distinct price sources they rest on)."""
    lines, sources = [], []
    for w in e.workloads.values():
        if w.cost is not None:
            lines.append(w.cost.line())
            sources += [] if w.cost.prices in sources else [w.cost.prices]
    return lines, sources


def explanation_text(e: Explanation) -> str:
    out = []
    changes = [(name, _change_text(w), w.superseded) for name, w in e.workloads.items()
               if _change_text(w) or w.superseded]
    if changes:
        out.append("changes:")
        for name, text, superseded in changes:
            out.append(f"  {name}: {text or 'changed'}")
            out += [f"    supersedes {s.job} ({s.state}): {s.fate}" for s in superseded]
    lines, sources = _cost_lines(e)
    if lines:
        out.append(f"cost (prices: {'; '.join(sources)}):")
        out += [f"  {line}" for line in lines]
    missing = [name for name, w in e.workloads.items() if w.cost is None and name in e.running]
    if missing:
        out.append(f"no cost for {', '.join(missing)}: the stack gives their pool no pricing")
    return "\n".join(out) + ("\n" if out else "")


def explanation_markdown(e: Explanation) -> str:
    out = []
    changes = [(name, _change_text(w), w.superseded) for name, w in e.workloads.items()
               if _change_text(w) or w.superseded]
    if changes:
        out += ["", "**What changed**", ""]
        for name, text, superseded in changes:
            out.append(f"- {name}: {text or 'changed'}")
            out += [f"  - supersedes `{s.job}` ({s.state}): {s.fate}" for s in superseded]
    lines, sources = _cost_lines(e)
    if lines:
        out += ["", "**Cost**", ""] + [f"- {line}" for line in lines]
        out += ["", f"<sub>prices: {'; '.join(sources)}</sub>"]
    return "\n".join(out) + ("\n" if out else "")


def explanation_json(e: Explanation) -> dict[str, Any]:
    h = e.header
    return {
        "target": {"kind": h.target, "stack": h.stack, "batchAccount": h.batch_account,
                   "batchEndpoint": h.batch_endpoint, "storageAccount": h.storage_account},
        "hasChanges": e.has_changes,
        "explanations": {name: {
            "fields": list(w.change.fields) if w.change else None,
            "inputs": list(w.change.inputs) if w.change else None,
            "changeUnknown": w.change_unknown,
            "superseded": [{"job": s.job, "state": s.state, "fate": s.fate} for s in w.superseded],
            "cost": w.cost.as_json() if w.cost else None} for name, w in e.workloads.items()},
    }
