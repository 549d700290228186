"""Pool usage metrics from the nodes' recorded lives: per pool and 30-minute aggregation interval, the node time
in the interval times the vmSize's vCPUs, on the emulator's clock (here a clock the test moves)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from azure.batch import models as m

from bigcompute.emulator import InstantExecutor
from bigcompute.local.testing import LOCAL_VM, wait_for
from tests.conftest import Emulator, _start

HALF_HOUR = 1800.0
A = 1_800_000_000.0  # an interval boundary (a multiple of 30 minutes): 2027-01-15T08:00:00Z


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def emu(tmp_path) -> Iterator[tuple[Emulator, Clock]]:
    """An emulator of its own whose clock the test sets (time_scale 1: an interval is 30 minutes of it)."""
    emulator = _start(tmp_path, InstantExecutor())
    clock = Clock(A + 600)
    emulator.state.ctx.clock = clock
    yield emulator, clock
    emulator.server.stop()


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _steady(client, pool_id: str, nodes: int) -> None:
    wait_for(lambda: (p := client.get_pool(pool_id)).allocation_state == "steady" and p.current_dedicated_nodes == nodes)


def test_core_hours_per_interval_follow_the_nodes_lives(emu) -> None:
    emulator, clock = emu
    client = emulator.client()
    # Standard_D4s_v5: 4 vCPUs. Two nodes from A+10min; one removed at A+70min; the pool deleted at A+100min.
    client.create_pool(m.BatchPoolCreateOptions(id="p4", vm_size="Standard_D4s_v5", target_dedicated_nodes=2,
                                                virtual_machine_configuration=LOCAL_VM))
    _steady(client, "p4", 2)
    clock.now = A + 4200
    client.begin_resize_pool("p4", m.BatchPoolResizeOptions(target_dedicated_nodes=1), polling_interval=0)
    _steady(client, "p4", 1)
    clock.now = A + 6000
    client.begin_delete_pool("p4", polling_interval=0)
    wait_for(lambda: "p4" not in [p.id for p in client.list_pools()])
    clock.now = A + 4 * HALF_HOUR + 1

    metrics = list(client.list_pool_usage_metrics(start_time=_at(A), end_time=_at(A + 4 * HALF_HOUR)))
    got = [(u.pool_id, u.start_time.timestamp(), u.end_time.timestamp(), u.vm_size, u.total_core_hours)
           for u in metrics]
    assert got == [
        ("p4", A, A + HALF_HOUR, "Standard_D4s_v5", pytest.approx(2 * 1200 * 4 / 3600)),
        ("p4", A + HALF_HOUR, A + 2 * HALF_HOUR, "Standard_D4s_v5", pytest.approx(2 * 1800 * 4 / 3600)),
        ("p4", A + 2 * HALF_HOUR, A + 3 * HALF_HOUR, "Standard_D4s_v5", pytest.approx((600 + 1800) * 4 / 3600)),
        ("p4", A + 3 * HALF_HOUR, A + 4 * HALF_HOUR, "Standard_D4s_v5", pytest.approx(600 * 4 / 3600)),
    ]
    # Without a time range: the last interval available (the one that ended last), and none once the pool was
    # gone throughout it.
    assert [u.start_time.timestamp() for u in client.list_pool_usage_metrics()] == [A + 3 * HALF_HOUR]
    clock.now = A + 5 * HALF_HOUR + 1
    assert list(client.list_pool_usage_metrics()) == []
    clock.now = A + 3 * HALF_HOUR + 5
    last = list(client.list_pool_usage_metrics())
    assert [(u.start_time.timestamp(), u.total_core_hours) for u in last] == [(A + 2 * HALF_HOUR, pytest.approx(8 / 3))]


def test_the_filter_picks_pools_and_intervals_still_going_are_not_shown(emu) -> None:
    emulator, clock = emu
    client = emulator.client()
    for pool_id in ("alpha", "beta"):
        client.create_pool(m.BatchPoolCreateOptions(id=pool_id, vm_size="Standard_D2s_v5", target_dedicated_nodes=1,
                                                    virtual_machine_configuration=LOCAL_VM))
        _steady(client, pool_id, 1)
    clock.now = A + HALF_HOUR + 60  # the first interval has ended; the second is still going
    both = list(client.list_pool_usage_metrics(start_time=_at(A), end_time=_at(A + 2 * HALF_HOUR)))
    assert sorted((u.pool_id, u.total_core_hours) for u in both) == [("alpha", pytest.approx(1200 * 2 / 3600)),
                                                                     ("beta", pytest.approx(1200 * 2 / 3600))]
    beta = list(client.list_pool_usage_metrics(start_time=_at(A), filter="poolId eq 'beta'"))
    assert [u.pool_id for u in beta] == ["beta"]
