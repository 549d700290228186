"""The simulated pool: nodes, task slots, the task queue and node billing, driven by timed events.

Rules the simulator follows (see simulate.py for the undocumented points it decides):
- A node is billed from the moment it is requested until it leaves, except while preempted.
- Scaling down removes, in order: preempted nodes, nodes still starting (newest first), idle nodes,
  then busy nodes with the fewest running tasks. Busy nodes follow the deallocation option:
  requeue puts their tasks back at the head of the queue, terminate ends them (counted as terminated),
  taskcompletion stops giving them tasks and removes them when their tasks finish, and retaineddata
  also keeps them (billed) until the task retention time after their last task has passed.
- Scaling up first takes back nodes that are still draining, then requests new ones, which become
  ready after a start-up time drawn by `ready_time()`. No more nodes than `node_limit` per kind exist
  (the core quota); spot nodes are not created while spot capacity is out (`spot_out`).
- A ready spot node is preempted after an exponential time at `preempt_rate` per node-hour, and every
  ready spot node at the start of a capacity outage; its tasks are requeued, it stays in the pool
  (counted in $CurrentLowPriorityNodes and $PreemptedNodeCount), unbilled, and comes back after a
  start-up time once capacity is there again.
- Tasks start in arrival order (a task needing more slots than any node has free waits at the head).
- A share `allocation_failure` of node requests fails (Batch's resize errors such as AllocationFailed or
  AllocationTimedout): the node never joins, is not billed, and the pool stays resizing until the resize
  timeout (Batch's default 15 minutes) has passed; the next evaluation asks again.
- The pool is resizing while requested nodes are still allocating, removed nodes are still draining, or a
  failed request's resize timeout has not passed (`resizing`); the simulator decides what an evaluation
  does meanwhile (simulate.py, `retarget`).
"""

from __future__ import annotations

import bisect
import heapq
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

ALLOCATING, READY, DRAINING, PREEMPTED = range(4)
BILLED = (ALLOCATING, READY, DRAINING)
ARRIVE, FINISH, NODE_READY, PREEMPT, RECOVER, LEAVE, OUTAGE = range(7)


@dataclass(eq=False)
class Node:
    id: int
    spot: bool
    state: int = ALLOCATING
    token: int = 0  # bumped on every state change that makes queued events stale
    running: set[int] = field(default_factory=set)
    used: int = 0  # task slots taken by the running tasks
    last_end: float = 0.0  # when its last task ended (retaineddata keeps the node past it)
    retain: bool = False  # removed with retaineddata: leaves once its tasks' retention has passed


@dataclass
class Usage:
    """Node-seconds per node kind ([dedicated, spot]), split by what the node was doing."""
    starting: list[float] = field(default_factory=lambda: [0.0, 0.0])
    busy: list[float] = field(default_factory=lambda: [0.0, 0.0])  # slot-weighted: half the slots = half busy
    idle: list[float] = field(default_factory=lambda: [0.0, 0.0])
    draining: list[float] = field(default_factory=lambda: [0.0, 0.0])

    def billed(self, spot: int) -> float:
        return self.starting[spot] + self.busy[spot] + self.idle[spot] + self.draining[spot]


class PoolModel:
    def __init__(self, slots: int, ready_time: Callable[[], float], preempt_rate: float, rng: random.Random,
                 node_limit: tuple[int, int], fill: str = "spread", retention: float = 7 * 86400.0,
                 outages: tuple[tuple[float, float], ...] = (), allocation_failure: float = 0.0,
                 resize_timeout: float = 900.0, allocation_rng: random.Random | None = None) -> None:
        self.slots, self.ready_time, self.rng, self.node_limit = slots, ready_time, rng, node_limit
        self.allocation_failure, self.resize_timeout = allocation_failure, resize_timeout
        self.allocation_rng = allocation_rng or random.Random(0)
        self.resize_errors = 0  # node requests Batch failed to allocate
        self._failed_until = 0.0  # a failed request keeps the pool resizing until its resize timeout
        self.preempt_per_second = preempt_rate / 3600.0
        self.pack = fill == "pack"
        self.retention = retention
        self.outages = outages
        self._outage_ends = [end for _, end in outages]
        self.nodes: dict[int, Node] = {}
        self.free: dict[int, Node] = {}  # ready nodes with a free slot
        self.counts = [[0] * 4, [0] * 4]  # [spot][state]
        self.busy_slots = [0, 0]  # slots in use on READY nodes, per kind
        self._acc = [[0.0] * 4, [0.0] * 4]  # node-seconds [spot][starting, busy, idle, draining]
        self.clock = 0.0
        self.events: list[tuple[float, int, int, int, int]] = []
        self._seq = self._ids = 0
        # Tasks, by id: parallel lists keep a week of tasks cheap.
        self.duration: list[float] = []
        self.need: list[int] = []  # task slots each task takes
        self.arrived_at: list[float] = []
        self.queued_at: list[float] = []
        self.started_at: list[float] = []
        self.waited: list[float] = []
        self.attempt: list[int] = []
        self.on_node: list[Node | None] = []
        self.queue: deque[int] = deque()
        self.running = self.completed = self.terminated = self.requeued = 0
        self.waits: list[float] = []
        self.last_done = 0.0
        self.node_starts = 0  # nodes requested (each one a cold start)
        self.lost = {"preemption": 0.0, "scale-down": 0.0}  # task-seconds of work thrown away
        self.short = [0, 0]  # node requests the quota (dedicated) or a spot outage (spot) refused
        for start, _ in outages:
            self.push(start, OUTAGE)

    # Events -------------------------------------------------------------------------------------
    def push(self, at: float, kind: int, a: int = 0, b: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self.events, (at, self._seq, kind, a, b))

    def run_until(self, t: float, arrivals: list[tuple[float, int, float, int]]) -> None:
        events = self.events
        while events and events[0][0] <= t:
            at, _, kind, a, b = heapq.heappop(events)
            self.advance(at)
            if kind == ARRIVE:
                _, count, duration, need = arrivals[a]
                for _ in range(count):
                    self._new_task(at, duration, need)
            elif kind == FINISH:
                self._finish(a, b, at)
            elif kind == OUTAGE:
                for node in [n for n in self.nodes.values() if n.spot and n.state in (READY, DRAINING)]:
                    self._node_event(PREEMPT, node, at)
            else:
                node = self.nodes.get(a)
                if node is not None and node.token == b:
                    self._node_event(kind, node, at)
            self.dispatch(at)
        self.advance(t)

    def advance(self, t: float) -> None:
        span = t - self.clock
        if span <= 0:
            return
        self.clock = t
        for c, acc, busy_slots in ((self.counts[0], self._acc[0], self.busy_slots[0]),
                                   (self.counts[1], self._acc[1], self.busy_slots[1])):
            if c[0] or c[1] or c[2]:  # allocating, ready, draining
                busy = busy_slots / self.slots
                acc[0] += c[0] * span
                acc[1] += busy * span
                acc[2] += (c[1] - busy) * span
                acc[3] += c[2] * span

    @property
    def usage(self) -> Usage:
        return Usage(*([self._acc[0][i], self._acc[1][i]] for i in range(4)))

    def spot_out(self, t: float) -> float | None:
        """The end of the spot capacity outage under way at `t`, or None."""
        i = bisect.bisect_right(self._outage_ends, t)
        if i < len(self.outages) and self.outages[i][0] <= t:
            return self.outages[i][1]
        return None

    # Tasks --------------------------------------------------------------------------------------
    def _new_task(self, t: float, duration: float, need: int) -> None:
        self.duration.append(duration)
        self.need.append(need)
        self.arrived_at.append(t)
        self.queued_at.append(t)
        self.started_at.append(t)
        self.waited.append(0.0)
        self.attempt.append(0)
        self.on_node.append(None)
        self.queue.append(len(self.duration) - 1)

    def _pick(self, need: int) -> Node | None:
        free = self.free
        fits = [n for n in free.values() if self.slots - n.used >= need] if need > 1 else free.values()
        if not fits:
            return None
        if self.pack:
            return max(fits, key=lambda n: (n.used, -n.id))
        return min(fits, key=lambda n: (n.used, n.id))

    def dispatch(self, t: float) -> None:
        free, queue = self.free, self.queue
        while queue and free:
            task = queue[0]
            need = self.need[task]
            if need == 1 and len(free) == 1:
                node = next(iter(free.values()))
            else:
                picked = self._pick(need)
                if picked is None:
                    return  # the head task waits for a node with enough free slots
                node = picked
            queue.popleft()
            # Microseconds: event times are sums of floats, and 1e-13 s of noise is not a wait.
            self.waited[task] = round(self.waited[task] + t - self.queued_at[task], 6)
            self.started_at[task] = t
            self.attempt[task] += 1
            self.on_node[task] = node
            node.running.add(task)
            node.used += need
            self.busy_slots[int(node.spot)] += need
            self.running += 1
            if node.used >= self.slots:
                del free[node.id]
            self.push(t + self.duration[task], FINISH, task, self.attempt[task])

    def _finish(self, task: int, attempt: int, t: float) -> None:
        node = self.on_node[task]
        if node is None or attempt != self.attempt[task]:
            return  # the task was requeued or ended since
        self._release(task, node)
        node.last_end = t
        self.completed += 1
        self.waits.append(self.waited[task])
        self.last_done = t
        if node.state == DRAINING and not node.running:
            self._leave_after_retention(node, t)
        elif node.state == READY:
            self.free[node.id] = node

    def _release(self, task: int, node: Node) -> None:
        node.running.discard(task)
        need = self.need[task]
        node.used -= need
        if node.state == READY:
            self.busy_slots[int(node.spot)] -= need
        self.on_node[task] = None
        self.attempt[task] += 1
        self.running -= 1

    def _requeue_all(self, node: Node, t: float, cause: str) -> None:
        for task in sorted(node.running, reverse=True):
            self.lost[cause] += t - self.started_at[task]
            self._release(task, node)
            self.queued_at[task] = t
            self.queue.appendleft(task)
            self.requeued += 1

    # Nodes --------------------------------------------------------------------------------------
    def _move(self, node: Node, state: int) -> None:
        spot = int(node.spot)
        self.counts[spot][node.state] -= 1
        self.counts[spot][state] += 1
        if node.state == READY:
            self.busy_slots[spot] -= node.used
        if state == READY:
            self.busy_slots[spot] += node.used
        # Draining and undraining keep the node's pending preemption; other moves make events stale.
        if DRAINING not in (state, node.state):
            node.token += 1
        node.state = state

    def _drop(self, node: Node) -> None:
        spot = int(node.spot)
        if node.state == READY:
            self.busy_slots[spot] -= node.used
        self.counts[spot][node.state] -= 1
        self.nodes.pop(node.id, None)
        self.free.pop(node.id, None)

    def _leave_after_retention(self, node: Node, t: float) -> None:
        if node.retain and node.last_end + self.retention > t:
            node.token += 1
            self.push(node.last_end + self.retention, LEAVE, node.id, node.token)
        else:
            self._drop(node)

    def _node_event(self, kind: int, node: Node, t: float) -> None:
        if kind == LEAVE:
            if node.state == DRAINING and node.retain:  # not taken back meanwhile
                self._drop(node)
        elif kind in (NODE_READY, RECOVER):
            back = self.spot_out(t) if node.spot else None
            if back is not None:  # no spot capacity: it stays down until the outage ends
                self._move(node, PREEMPTED)
                self.push(back + self.ready_time(), RECOVER, node.id, node.token)
                return
            self._move(node, READY)
            self.free[node.id] = node
            self._schedule_preemption(node, t)
        elif kind == PREEMPT and node.state in (READY, DRAINING):
            self._requeue_all(node, t, "preemption")
            self.free.pop(node.id, None)
            if node.state == DRAINING:
                self._drop(node)
                return
            self._move(node, PREEMPTED)
            back = self.spot_out(t)
            self.push((back if back is not None else t) + self.ready_time(), RECOVER, node.id, node.token)

    def _schedule_preemption(self, node: Node, t: float) -> None:
        if node.spot and self.preempt_per_second > 0:
            self.push(t + self.rng.expovariate(self.preempt_per_second), PREEMPT, node.id, node.token)

    def resize(self, t: float, dedicated: int, spot: int, option: str) -> None:
        self.advance(t)
        for is_spot, target in ((False, dedicated), (True, spot)):
            mine = [n for n in self.nodes.values() if n.spot == is_spot]
            staying = [n for n in mine if n.state != DRAINING]
            limit = self.node_limit[int(is_spot)]
            if target > limit:
                self.short[int(is_spot)] += 1
            diff = min(target, limit) - len(staying)
            if diff > 0:
                for node in [n for n in mine if n.state == DRAINING][:diff]:
                    self._move(node, READY)
                    node.retain = False
                    if node.used < self.slots:
                        self.free[node.id] = node
                    diff -= 1
                if is_spot and diff > 0 and self.spot_out(t) is not None:
                    self.short[1] += 1  # Batch cannot allocate spot nodes now; the target is not reached
                    diff = 0
                for _ in range(diff):
                    if self.allocation_failure and self.allocation_rng.random() < self.allocation_failure:
                        self.resize_errors += 1
                        self._failed_until = max(self._failed_until, t + self.resize_timeout)
                        continue
                    self._ids += 1
                    node = Node(self._ids, is_spot)
                    self.nodes[node.id] = node
                    self.counts[int(is_spot)][ALLOCATING] += 1
                    self.node_starts += 1
                    self.push(t + self.ready_time(), NODE_READY, node.id, node.token)
            elif diff < 0:
                order = {PREEMPTED: 0, ALLOCATING: 1, READY: 2}
                victims = sorted(staying, key=lambda n: (order[n.state], len(n.running), -n.id))
                for node in victims[:-diff]:
                    self._remove(node, option, t)
        self.dispatch(t)

    def _remove(self, node: Node, option: str, t: float) -> None:
        node.retain = option == "retaineddata" and node.state == READY
        if node.running and option in ("taskcompletion", "retaineddata"):
            self._move(node, DRAINING)
            self.free.pop(node.id, None)
            return
        if option == "terminate":
            for task in list(node.running):
                self.lost["scale-down"] += t - self.started_at[task]
                self._release(task, node)
                self.terminated += 1
                self.last_done = t
        elif option != "retaineddata":
            self._requeue_all(node, t, "scale-down")
        if node.retain and node.last_end > 0:
            self._move(node, DRAINING)
            self.free.pop(node.id, None)
            self._leave_after_retention(node, t)
            return
        self._drop(node)

    # Views --------------------------------------------------------------------------------------
    def resizing(self, t: float) -> bool:
        """Batch's allocationState would say `resizing`: nodes joining or leaving, or a failed request's
        resize timeout still running."""
        (a0, _, d0, _), (a1, _, d1, _) = self.counts
        return bool(a0 or a1 or d0 or d1) or t < self._failed_until

    def current(self, spot: bool) -> int:
        return sum(self.counts[int(spot)])

    def ready(self, spot: bool) -> int:
        c = self.counts[int(spot)]
        return c[READY] + c[DRAINING]

    def busy_slots_all(self) -> int:
        """Task slots in use on ready and draining nodes."""
        return sum(n.used for n in self.nodes.values() if n.state in (READY, DRAINING)) \
            if self.counts[0][DRAINING] or self.counts[1][DRAINING] else self.busy_slots[0] + self.busy_slots[1]

    def billed(self, spot: bool) -> int:
        c = self.counts[int(spot)]
        return c[ALLOCATING] + c[READY] + c[DRAINING]
