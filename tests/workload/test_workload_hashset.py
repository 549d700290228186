"""The flat hash set validation keeps one entry per task id in: the same answers as a Python set."""

from __future__ import annotations

import random

from bigcompute.workload.hashset import HashSet


def test_hashset_answers_as_a_set_through_growth_and_edge_values():
    rng = random.Random(18)
    keys = [rng.getrandbits(64) - (1 << 63) for _ in range(20_000)] + [hash(f"t-{i}") for i in range(20_000)]
    keys += [-1, 2, (1 << 63) - 1, -(1 << 63)]
    inserted, reference = HashSet(), set()
    for key in keys[::2]:
        assert inserted.add(key) == (key in reference)
        reference.add(key)
    assert inserted.add(keys[0]) is True  # a second add says it was there
    assert len(inserted) == len(reference)
    assert [k in inserted for k in keys] == [k in reference for k in keys]


def test_zero_is_stored_though_it_marks_empty_slots():
    s = HashSet()
    assert 0 not in s and s.add(0) is False and 0 in s and s.add(0) is True
