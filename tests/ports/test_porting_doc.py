"""docs/porting.md maps every option of Batch Shipyard's jobs.yaml reference and every feature of the Batch CLI
extensions' templates and task factories to bigcompute, or says why not (issue 16, Done when). The option lists
were extracted from those documents at the commits their headers name; each must appear, in backticks, in its
section of the document."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "porting.md").read_text()
HERE = Path(__file__).parent


def _options(name: str) -> list[str]:
    return [line.strip() for line in (HERE / name).read_text().splitlines() if line.strip() and not line.startswith("#")]


def _section(title: str) -> str:
    start = DOC.index(title)
    end = DOC.find("\n## ", start + len(title))
    return DOC[start:end if end != -1 else None]


def _mentioned(option: str, section: str) -> bool:
    """In a backticked span: a plain name as a word of it (`exit_conditions: {default: …}` names default), other
    text (a placeholder, a function) as written."""
    spans = re.findall(r"`([^`]+)`", section)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", option):
        return any(option in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", s) for s in spans)
    return any(option in s for s in spans)


@pytest.mark.parametrize(("options", "title"), [("shipyard-jobs-options.txt", "## Batch Shipyard `jobs.yaml`"),
                                                ("cli-templates-features.txt", "## Batch CLI extensions templates")])
def test_every_option_of_the_sources_is_mapped(options, title):
    listed = _options(options)
    assert len(listed) > 40  # the list was read (an empty list would pass anything)
    section = _section(title)
    assert [o for o in listed if not _mentioned(o, section)] == []


def test_the_check_finds_an_unmapped_option():
    section = "| `exit_conditions: {default: …}` | `defaults.exitConditions` | |"
    assert _mentioned("default", section) and _mentioned("exit_conditions", section)
    assert not _mentioned("exit_options", section) and not _mentioned("{0:4}", section)
