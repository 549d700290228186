"""The container engine of this machine, if one works: docker, else podman. Container tasks (Batch's
containerSettings) run with it; without one they are refused. A client alone is not an engine (`docker` without
a daemon answers nothing): `<engine> info` must succeed."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import cache

ENGINES = ("docker", "podman")
PROBE_TIMEOUT = 15.0


@dataclass(frozen=True)
class EngineProbe:
    engine: str | None  # the first engine that answered, or None
    tried: tuple[str, ...]  # what each engine said, for the refusal message
    path: str | None = None  # the engine's executable (tasks' PATH may not lead to it)

    @property
    def why_not(self) -> str:
        return "; ".join(self.tried) or "neither docker nor podman is installed"


def probe(engines: tuple[str, ...] = ENGINES) -> EngineProbe:
    tried = []
    for name in engines:
        path = shutil.which(name)
        if path is None:
            tried.append(f"{name}: not installed")
            continue
        try:
            proc = subprocess.run([path, "info"], capture_output=True, text=True, timeout=PROBE_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as e:
            tried.append(f"{name} info: {e}")
            continue
        if proc.returncode == 0:
            return EngineProbe(name, tuple(tried), path)
        last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        tried.append(f"{name} info: {last[:200]}")
    return EngineProbe(None, tuple(tried))


@cache
def machine_engine() -> EngineProbe:
    """This machine's engine, probed once per process."""
    return probe()
