"""Collect the ids the merge task depends on while tasks stream past, in bounded memory."""

from __future__ import annotations

from typing import Any


def is_plain_integer(task_id: str) -> bool:
    """Ids Batch can put in a dependency range: decimal digits without leading zeros."""
    return task_id.isdigit() and (task_id == "0" or not task_id.startswith("0"))


class DependencyCollector:
    """Integer ids fold into ranges as they arrive; other ids are kept (validation caps their total size)."""

    def __init__(self) -> None:
        self.ranges: list[list[int]] = []
        self.ids: list[str] = []
        self.numeric = True

    def add(self, task_id: str) -> None:
        if not self.numeric:
            self.ids.append(task_id)
        elif is_plain_integer(task_id):
            n = int(task_id)
            if self.ranges and self.ranges[-1][1] + 1 == n:
                self.ranges[-1][1] = n
            else:
                self.ranges.append([n, n])
        else:
            self.numeric = False
            self.ids = [str(i) for a, b in self.ranges for i in range(a, b + 1)] + [task_id]
            self.ranges = []

    def dependencies(self) -> dict[str, Any]:
        """Batch's `dependsOn` JSON."""
        if self.numeric:
            merged: list[list[int]] = []
            for a, b in sorted(self.ranges):
                if merged and a <= merged[-1][1] + 1:
                    merged[-1][1] = max(merged[-1][1], b)
                else:
                    merged.append([a, b])
            return {"taskIdRanges": [{"start": a, "end": b} for a, b in merged]}
        return {"taskIds": list(self.ids)}
