"""Where the autoscale commands get a formula: a file, a stack's pool (also as a git ref had it), a preset."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bigcompute.autoscale import FormulaError, presets
from bigcompute.autoscale.durations import parse_duration
from bigcompute.autoscale.limits import DEFAULT_INTERVAL
from bigcompute.cli.exit import EXIT_INVALID, Exit
from bigcompute.document.files import NotRegularFile, read_regular
from bigcompute.infra.policy import formula_uses_spot


def read_formula(path: str) -> str:
    try:
        raw = sys.stdin.buffer.read() if path == "-" else read_regular(path)
    except NotRegularFile as e:
        raise Exit(EXIT_INVALID, f"{path}:1:1: cannot read file: it is {e}") from None
    except OSError as e:
        raise Exit(EXIT_INVALID, f"{path}: {e.strerror or e}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:  # located like every other formula error
        before = raw[: e.start]
        line, column = before.count(b"\n") + 1, e.start - (before.rfind(b"\n") + 1) + 1
        raise Exit(EXIT_INVALID, f"{path}:{line}:{column}: file is not valid UTF-8 "
                                 f"(byte 0x{raw[e.start]:02x})") from None


def duration(text: str, option: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as e:
        raise Exit(EXIT_INVALID, f"{option}: {e}") from None


@dataclass(frozen=True)
class PoolFormula:
    """A formula with what the stack says about its pool (defaults when it came from a file)."""
    label: str
    text: str
    evaluation_interval: timedelta = DEFAULT_INTERVAL
    task_slots: int = 1
    pricing: Any = None
    fill: str = "spread"
    vm_size: str | None = None
    uses_spot: bool = False
    capacity: Any = None  # config.capacity.Capacity of a stack's pool: what a reviewer reads of it


def stack_formulas(stack_name: str, pool_name: str | None = None, label: str | None = None) -> list[PoolFormula]:
    from bigcompute.config import AutoScale, ConfigError, load_stack

    try:
        stack = load_stack(stack_name)
    except ConfigError as e:
        raise Exit(EXIT_INVALID, "\n".join(str(d) for d in e.diagnostics)) from None
    pools = [p for p in stack.pools if pool_name is None or p.name == pool_name]
    if pool_name is not None and not pools:
        raise Exit(EXIT_INVALID, f"stack '{stack.name}' has no pool '{pool_name}'; it has "
                                 f"{', '.join(p.name for p in stack.pools)}")
    out = []
    for pool in pools:
        if not isinstance(pool.scale, AutoScale):
            if pool_name is not None:
                raise Exit(EXIT_INVALID, f"pool '{pool.name}' has a fixed size; there is no formula to use")
            continue
        try:
            out.append(pool_formula(pool, f"{label or stack.path}:{pool.name}"))
        except presets.PresetError as e:
            raise Exit(EXIT_INVALID, f"{stack.path}: pool {pool.name}: {e}") from None
    return out


def pool_formula(pool: Any, label: str) -> PoolFormula:
    """An autoscale pool of a loaded stack (config.PoolConfig) as the simulator and the checker take it.
    Raises presets.PresetError for parameters the stack loader would refuse."""
    from bigcompute.config.capacity import pool_capacity

    text = pool.formula() or ""
    try:
        capacity = pool_capacity(pool)
    except FormulaError:  # reported by the checker, located; a broken formula has no metrics to read
        capacity = None
    return PoolFormula(label, text, pool.scale.evaluation_interval, pool.task_slots_per_node, pool.pricing,
                       pool.scheduling, pool.vm_size, formula_uses_spot(text), capacity)


def stack_at_ref(stack_name: str, pool_name: str, ref: str) -> PoolFormula:
    """The pool as the stack file stood at git `ref` (a branch, tag or commit)."""
    from bigcompute.config.loader import find_stack_file

    path = find_stack_file(stack_name).resolve()
    try:
        top = subprocess.run(["git", "-C", str(path.parent), "rev-parse", "--show-toplevel"], check=True,
                             capture_output=True, text=True).stdout.strip()
        relative = path.relative_to(top).as_posix()
        text = subprocess.run(["git", "-C", top, "show", f"{ref}:{relative}"], check=True, capture_output=True,
                              text=True).stdout
    except (OSError, ValueError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", "") or str(e)
        raise Exit(EXIT_INVALID, f"--compare git:{ref}: cannot read {path.name} at {ref}: {detail.strip()}") from None
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / path.name
        copy.write_text(text)
        return stack_formulas(str(copy), pool_name, label=f"{path.name}@{ref}")[0]


def preset_formula(name: str, items: tuple[str, ...] | list[str], option: str = "--param") -> PoolFormula:
    params: dict[str, Any] = {}
    for item in items:
        key, eq, raw = item.partition("=")
        if not eq:
            raise Exit(EXIT_INVALID, f"{option} {item!r}: expected KEY=VALUE")
        try:
            params[key.strip()] = json.loads(raw)
        except ValueError:
            params[key.strip()] = raw
    try:
        text = presets.render(name, params)
    except presets.PresetError as e:
        raise Exit(EXIT_INVALID, f"{option} {e}") from None
    return PoolFormula(f"preset {name}", text, uses_spot=formula_uses_spot(text))
