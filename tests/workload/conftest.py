from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A throwaway repository: workload files go in workloads/, inputs beside them."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "workloads" / "prog").mkdir(parents=True)
    (tmp_path / "workloads" / "prog" / "run.py").write_text("print('hi')\n")
    for i in range(3):
        (tmp_path / "workloads" / "data").mkdir(exist_ok=True)
        (tmp_path / "workloads" / "data" / f"part{i}.csv").write_text(f"x\n{i}\n")
    return tmp_path


@pytest.fixture
def write(repo: Path):
    def _write(text: str | bytes, name: str = "w.yaml") -> Path:
        path = repo / "workloads" / name
        if isinstance(text, str):
            path.write_text(textwrap.dedent(text))
        else:
            path.write_bytes(text)
        return path
    return _write


@pytest.fixture
def refused(write):
    """`refused(text, **load_workload kwargs)`: (line, column, code, message) of each problem of the workload
    file holding `text`; [] when it loads."""
    from bigcompute.workload import WorkloadError, load_workload

    def _refused(text: str, **kwargs) -> list[tuple[int, int, str, str]]:
        try:
            load_workload(write(text), **kwargs)
        except WorkloadError as e:
            return [(d.line, d.column, d.code, d.message) for d in e.diagnostics]
        return []
    return _refused
