"""Fixtures for the stack-config tests: a stack file written from a pool's lines, loaded or refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bigcompute.config import ConfigError, StackConfig, load_stack
from bigcompute.document import Diagnostic

HEAD = """\
config:
  bigcompute:location: westeurope
  bigcompute:environment: test
{extra}  bigcompute:pools:
    - name: cpu
"""
POOL = "      vmSize: Standard_D2s_v5\n      image: ubuntu-24.04\n      scale: {fixed: {dedicated: 1}}\n"


@pytest.fixture
def write_stack(tmp_path: Path) -> Callable[..., Path]:
    """`write_stack(pool=POOL lines, extra=namespace lines)`: the path of a one-pool stack file."""

    def write(pool: str = POOL, extra: str = "") -> Path:
        path = tmp_path / "stacks" / "Pulumi.test.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(HEAD.format(extra=extra) + pool)
        return path

    return write


@pytest.fixture
def load(write_stack: Callable[..., Path]) -> Callable[..., StackConfig]:
    return lambda pool=POOL, extra="": load_stack(write_stack(pool, extra))


@pytest.fixture
def refusals(write_stack: Callable[..., Path]) -> Callable[..., list[Diagnostic]]:
    """`refusals(pool=..., extra=...)`: the diagnostics loading the stack raises (fails if it loads)."""

    def refuse(pool: str = POOL, extra: str = "") -> list[Diagnostic]:
        with pytest.raises(ConfigError) as info:
            load_stack(write_stack(pool, extra))
        return info.value.diagnostics

    return refuse
