"""The CLI only parses and renders: of the runner it imports the public interface alone (bigcompute.runner.api),
and it never imports an Azure SDK (the runner turns the SDK's errors into its own)."""

from __future__ import annotations

import ast
from pathlib import Path

import bigcompute.cli

CLI = Path(bigcompute.cli.__file__).parent
PUBLIC = "bigcompute.runner.api"


def imported(path: Path) -> list[tuple[int, str]]:
    """Every module the file imports, at any depth (lazy imports inside functions too), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.lineno, node.module)]
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names
                      if node.module in ("bigcompute.runner", "azure")]  # `from bigcompute.runner import plan`
    return found


def forbidden(module: str) -> bool:
    internal = module.startswith("bigcompute.runner") and module not in ("bigcompute.runner", PUBLIC)
    return internal or module == "azure" or module.startswith("azure.")


def test_cli_modules_import_only_the_runners_public_interface_and_no_azure_sdk():
    files = sorted(CLI.rglob("*.py"))
    assert len(files) > 15  # the walk found the CLI's modules
    offending = [f"{path.relative_to(CLI.parent.parent)}:{line}: {module}"
                 for path in files for line, module in imported(path) if forbidden(module)]
    assert offending == []


def test_the_check_catches_what_it_forbids(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from bigcompute.runner.api import Runner\n"
                      "def f():\n    from bigcompute.runner.plan import make_plan\n"
                      "from bigcompute.runner import session\nimport azure.batch\n"
                      "from azure.core.exceptions import HttpResponseError\n")
    assert sorted(m for _, m in imported(sample) if forbidden(m)) == [
        "azure.batch", "azure.core.exceptions", "bigcompute.runner.plan", "bigcompute.runner.session"]
