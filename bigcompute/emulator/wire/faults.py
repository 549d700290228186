"""Fault injection for reliability tests: `429=0.05,503=0.1,reset=0.02,drop=0.02` with a seed for repeatability.

`reset` drops the connection before the request is handled; `drop` handles it (the change is made) and
then drops the connection, so the client never learns that its request succeeded: the retry must cope.
Each fault injected is counted by kind (`FaultPlan.served()`, or a signed `GET /_emulator/faults` on a running
emulator), so a test can prove it met the faults it advertises.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

from bigcompute.emulator.core.errors import BatchError

KINDS = ("429", "500", "503", "reset", "drop")


class FaultPlan:
    def __init__(self, spec: str = "", seed: int | None = None) -> None:
        self.rates: dict[str, float] = {}
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            kind, _, rate = part.partition("=")
            if kind not in KINDS:
                raise ValueError(f"unknown fault {kind!r}; expected one of {', '.join(KINDS)}")
            value = float(rate)
            if not 0 <= value <= 1:
                raise ValueError(f"fault rate for {kind} must be within [0, 1], got {rate}")
            self.rates[kind] = value
        if sum(self.rates.values()) > 1:
            raise ValueError("fault rates add up to more than 1")
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._served: Counter[str] = Counter()

    def served(self) -> dict[str, int]:
        """How many faults of each kind were actually injected, so a test can prove it met them."""
        with self._lock:
            return dict(self._served)

    def note(self, kind: str) -> None:
        """Count one fault of `kind` as served; the middleware calls it where it injects the fault."""
        with self._lock:
            self._served[kind] += 1

    def draw(self) -> str | None:
        """The fault for the next request, or None. One draw per request keeps a seed reproducible."""
        if not self.rates:
            return None
        with self._lock:
            x = self._rng.random()
        for kind, rate in self.rates.items():
            if x < rate:
                return kind
            x -= rate
        return None


def as_error(kind: str) -> BatchError:
    if kind == "429":
        return BatchError(429, "TooManyRequests", "The server is busy; retry after the time given in Retry-After.")
    if kind == "500":
        return BatchError(500, "InternalError", "The server encountered an internal error. Please retry the request.")
    return BatchError(503, "ServerBusy", "The server is currently unable to receive requests. Please retry.")
