"""A set of 64-bit hashes in one flat array: 8 bytes an entry (16 at most, after growing), where a Python
set of ints takes ~70 (the int object and the set's slot). Validation remembers one hash per task id to find
duplicates and missing dependencies: 1M tasks are ~16 MB here instead of ~70 MB, 10M tasks ~160 MB
instead of ~700 MB."""

from __future__ import annotations

from array import array

_EMPTY = 0


class HashSet:
    """Open addressing with linear probing over an array of signed 64-bit slots, for keys from `hash()` (a
    signed 64-bit value on 64-bit CPython). 0 marks an empty slot: a hash of 0 is stored as 1, which is a hash
    collision like any other (the caller confirms a hit where it matters)."""

    def __init__(self) -> None:
        self._slots = array("q", bytes(8 * 1024))
        self._mask = 1023
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, key: int) -> bool:
        key = key or 1
        slots, mask = self._slots, self._mask
        i = key & mask
        while (found := slots[i]) != key:
            if found == _EMPTY:
                return False
            i = (i + 1) & mask
        return True

    def add(self, key: int) -> bool:
        """Add `key`; whether it was there already (one probe sequence for both questions)."""
        key = key or 1
        slots, mask = self._slots, self._mask
        i = key & mask
        while (found := slots[i]) != key:
            if found == _EMPTY:
                slots[i] = key
                self._count += 1
                if self._count * 2 > mask:  # at most half full: probes stay short
                    self._grow()
                return False
            i = (i + 1) & mask
        return True

    def _grow(self) -> None:
        old = self._slots
        self._slots = array("q", bytes(16 * len(old)))
        self._mask = 2 * len(old) - 1
        self._count = 0
        for key in old:
            if key != _EMPTY:
                self.add(key)
