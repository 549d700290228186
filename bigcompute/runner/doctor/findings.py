"""What `bigcompute doctor` reports: one finding per check and subject, each saying what to do about it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

OK, WARN, FAIL = "ok", "warn", "fail"
_RANK = {OK: 0, WARN: 1, FAIL: 2}


@dataclass(frozen=True)
class Finding:
    check: str  # what was checked, and of what: "storage roles: outputs", "pool cpu: nodes"
    status: str  # ok | warn | fail
    detail: str  # what was found
    action: str = ""  # what to do about it ("" when nothing needs doing)

    def as_json(self) -> dict[str, str]:
        return {"check": self.check, "status": self.status, "detail": self.detail, "action": self.action}


def ok(check: str, detail: str) -> Finding:
    return Finding(check, OK, detail)


def warn(check: str, detail: str, action: str) -> Finding:
    return Finding(check, WARN, detail, action)


def fail(check: str, detail: str, action: str) -> Finding:
    return Finding(check, FAIL, detail, action)


@dataclass(frozen=True)
class DoctorReport:
    target: str  # local | azure
    stack: str
    findings: tuple[Finding, ...]

    @property
    def status(self) -> str:
        """The worst status of any finding: `fail` when something stops work, `warn` when it may."""
        return worst(f.status for f in self.findings)

    def as_json(self) -> dict[str, object]:
        return {"target": self.target, "stack": self.stack, "status": self.status,
                "findings": [f.as_json() for f in self.findings]}


def worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=_RANK.__getitem__, default=OK)
