"""CI installs what pyproject.toml declares, at the versions requirements.lock pins (`make lock`, uv): every
package the code imports is declared (not merely installed because something else pulls it in), and the lock
pins each declared package at a version its range accepts, with hashes pip checks."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
RUNTIME = (REPO / "bigcompute", REPO / "components", REPO / "__main__.py")
# the test extra: tests, benchmarks and the CrossGuard pack (pulumi-policy), which CI installs from the lock
DEVELOPMENT = (REPO / "tests", REPO / "bench", REPO / "policy")
# modules of the repository itself: the packages, and the workloads' scripts that tests import by path
FIRST_PARTY = {"bigcompute", "components", "tests", "bench"} | {p.stem for p in (REPO / "workloads").rglob("*.py")}


def _declared(requirements: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, requirements)}


DEPENDENCIES = _declared(PYPROJECT["project"]["dependencies"])
TEST_EXTRA = _declared(PYPROJECT["project"]["optional-dependencies"]["test"])


@cache
def _imports(roots: tuple[Path, ...]) -> dict[str, Path]:
    """Absolute imports of third-party modules (full dotted names), with one file importing each."""
    found: dict[str, Path] = {}
    for root in roots:
        for path in [root] if root.is_file() else sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                        found.setdefault(name, path)
    return found


@cache
def _top_level() -> dict[str, list[str]]:
    return metadata.packages_distributions()


@cache
def _files(dist: str) -> frozenset[str]:
    return frozenset(str(f) for f in metadata.distribution(dist).files or ())


def distribution_of(module: str) -> str | None:
    """The installed distribution providing `module`; a namespace package (azure) by the files of each."""
    candidates = _top_level().get(module.split(".")[0], [])
    if len(set(candidates)) <= 1:
        return canonicalize_name(candidates[0]) if candidates else None
    parts = module.split(".")
    for depth in range(len(parts), 1, -1):
        rel = "/".join(parts[:depth])
        owners = {d for d in candidates if any(f.startswith(rel + "/") or f == rel + ".py" for f in _files(d))}
        if len(owners) == 1:
            return canonicalize_name(owners.pop())
    return None


@pytest.mark.parametrize(("roots", "allowed", "where"), [
    (RUNTIME, DEPENDENCIES, "[project] dependencies"),
    (DEVELOPMENT, DEPENDENCIES | TEST_EXTRA, "[project] dependencies or the test extra"),
], ids=["runtime", "development"])
def test_every_imported_package_is_declared(roots, allowed, where):
    undeclared = {}
    for module, path in _imports(roots).items():
        dist = distribution_of(module)
        if dist not in allowed:
            undeclared[module] = (dist, str(path.relative_to(REPO)))
    assert undeclared == {}, f"declare these in pyproject.toml's {where}"


def test_the_resolver_tells_namespace_packages_apart():
    assert distribution_of("azure.mgmt.batch") == "azure-mgmt-batch"
    assert distribution_of("azure.batch.models") == "azure-batch"
    assert distribution_of("azure.core.credentials") == "azure-core"
    assert distribution_of("yaml") == "pyyaml"
    assert distribution_of("no_such_module_anywhere") is None
    assert "jwt" in {m.split(".")[0] for m in _imports(RUNTIME)}  # the emulator checks tokens


LOCK = (REPO / "requirements.lock").read_text()
PINS = {canonicalize_name(n): v for n, v in re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", LOCK, re.M)}


def test_the_lock_pins_every_declared_package_within_its_range_with_hashes():
    for name, requirement in {**DEPENDENCIES, **TEST_EXTRA}.items():
        assert name in PINS, f"{name} is declared but not locked: run `make lock`"
        assert requirement.specifier.contains(PINS[name], prereleases=True), (name, PINS[name], str(requirement))
    entries = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", LOCK.split("\n", 2)[2])
    assert len(entries) == len(PINS) and all("--hash=sha256:" in e for e in entries)


def test_the_lock_is_what_make_lock_generates():
    """The lock's header names the command that made it, and it is the Makefile's `lock` recipe."""
    made_by = re.search(r"^#    (uv pip compile .*)$", LOCK, re.M).group(1)
    makefile = (REPO / "Makefile").read_text().replace("\\\n", " ")
    recipe = re.search(r"^lock:.*\n(?:\t.*\n)*", makefile, re.M).group(0)
    options = re.search(r"uv pip compile (.*?) --quiet", recipe).group(1).split()
    assert made_by.split() == ["uv", "pip", "compile", *options, "-o", "requirements.lock"]
    assert "--require-hashes -r $(LOCK)" in makefile and "--no-deps -e ." in makefile
