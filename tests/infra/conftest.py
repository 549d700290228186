"""Fixtures for the Pulumi program tests: plans of the real stacks (one run per stack and worker) and
throwaway projects holding a copy of the program next to a stack file written by the test."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from bigcompute.infra.plan import Plan, build_plan

REPO = Path(__file__).resolve().parents[2]
STACK_NAMES = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (REPO / "stacks").glob("Pulumi.*.yaml"))

# A minimal valid stack; tests append or replace lines to make it say what they need.
BASE_STACK = """\
config:
  bigcompute:location: westeurope
  bigcompute:environment: {environment}
  bigcompute:allowSpot: {allow_spot}
{extra}  bigcompute:pools:
{pools}"""

FIXED_POOL = """\
    - name: {name}
      vmSize: Standard_D2s_v5
      image: ubuntu-24.04
      scale:
        fixed: {{dedicated: {dedicated}, spot: {spot}}}
"""


def _stack_text(pools: str = "", environment: str = "test", allow_spot: bool = True, extra: str = "") -> str:
    pools = pools or FIXED_POOL.format(name="cpu", dedicated=1, spot=0)
    return BASE_STACK.format(environment=environment, allow_spot=str(allow_spot).lower(),
                             extra=textwrap.indent(textwrap.dedent(extra), "  ") if extra else "", pools=pools)


@pytest.fixture
def stack_text() -> Callable[..., str]:
    """`stack_text(pools=..., environment=..., allow_spot=..., extra=...)`: a stack file's text."""
    return _stack_text


@pytest.fixture
def fixed_pool() -> Callable[..., str]:
    """`fixed_pool(name=..., dedicated=..., spot=...)`: one pool entry for `stack_text(pools=...)`."""
    return lambda name="cpu", dedicated=1, spot=0: FIXED_POOL.format(name=name, dedicated=dedicated, spot=spot)


@pytest.fixture(params=STACK_NAMES)
def stack(request: pytest.FixtureRequest) -> str:
    """Each stack under stacks/ in turn."""
    return request.param


@pytest.fixture(scope="session")
def stack_plans() -> Callable[[str], Plan]:
    """The plan of a stack under stacks/, computed once per test worker."""
    cache: dict[str, Plan] = {}

    def get(name: str) -> Plan:
        if name not in cache:
            cache[name] = build_plan(name, REPO)
        return cache[name]

    return get


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    """`project(text, name="test")`: a copy of the program with stacks/Pulumi.<name>.yaml holding `text`."""
    shutil.copy(REPO / "__main__.py", tmp_path / "__main__.py")
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks").mkdir()

    def make(text: str, name: str = "test") -> Path:
        (tmp_path / "stacks" / f"Pulumi.{name}.yaml").write_text(text)
        return tmp_path

    return make
