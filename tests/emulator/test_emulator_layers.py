"""The emulator's layers (docs/emulator.md): imports run one way, wire -> service -> compute -> state -> core,
and nothing in the emulator reaches the local target's lifecycle, the runner, the CLI or the config."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EMULATOR = ROOT / "bigcompute" / "emulator"
# Top first: a module may import its own layer or any layer below it, never one above.
LAYERS = ("wire", "service", "compute", "state", "core")
FORBIDDEN = ("bigcompute.local", "bigcompute.runner", "bigcompute.cli", "bigcompute.config", "bigcompute.infra")


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[:2] != ["bigcompute", "emulator"] or len(parts) < 3:
        return None
    return parts[2] if parts[2] in LAYERS else None


def _imports(path: Path) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            # `from bigcompute.emulator.compute import files` names the module compute.files
            out += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return out


def _modules() -> list[Path]:
    return sorted(p for p in EMULATOR.rglob("*.py") if p.parent != EMULATOR or p.name == "service.py")


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(EMULATOR)))
def test_imports_never_run_up_a_layer(path: Path) -> None:
    own = "service" if path.name == "service.py" else path.relative_to(EMULATOR).parts[0]
    rank = LAYERS.index(own)
    for line, name in _imports(path):
        assert not name.startswith(FORBIDDEN), f"{path.name}:{line} imports {name}: the emulator is a separate service"
        target = _layer(name)
        if target is not None:
            assert LAYERS.index(target) >= rank, f"{path.name}:{line} ({own}) imports {name} ({target}), a layer above"


def test_the_check_sees_every_layer() -> None:
    """Each layer holds modules and the check reads their imports (an empty walk would pass anything)."""
    seen = {("service" if p.name == "service.py" else p.relative_to(EMULATOR).parts[0]) for p in _modules()}
    assert seen == set(LAYERS)
    assert any(_layer(name) == "state" for _, name in _imports(EMULATOR / "compute" / "scheduler.py"))
