"""The simulated pool: nodes, task slots, the task queue and node billing, driven by timed events.

Rules the simulator follows (see simulate.py for the undocumented points it decides):
- A node is billed from the moment it is requested until it leaves, except while preempted.
- Scaling down removes, in order: preempted nodes, nodes still starting (newest first), idle nodes,
  then busy nodes with the fewest running tasks. Busy nodes follow the deallocation option:
  requeue puts their tasks back at the head of the queue, terminate ends them (counted as terminated),
  taskcompletion and retaineddata stop giving them tasks and remove them when their tasks finish.
- Scaling up first takes back nodes that are still draining, then requests new ones, which become
  ready after `ready_time`.
- A ready spot node is preempted after an exponential time at `preempt_rate` per node-hour; its tasks
  are requeued, it stays in the pool (counted in $CurrentLowPriorityNodes and $PreemptedNodeCount),
  unbilled, and comes back after `ready_time`.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from dataclasses import dataclass, field

ALLOCATING, READY, DRAINING, PREEMPTED = range(4)
BILLED = (ALLOCATING, READY, DRAINING)
ARRIVE, FINISH, NODE_READY, PREEMPT, RECOVER = range(5)


@dataclass(eq=False)
class Node:
    id: int
    spot: bool
    state: int = ALLOCATING
    token: int = 0  # bumped on every state change that makes queued events stale
    running: set[int] = field(default_factory=set)


class PoolModel:
    def __init__(self, slots: int, ready_time: float, preempt_rate: float, rng: random.Random,
                 node_limit: int, fill: str = "spread") -> None:
        self.slots, self.ready_time, self.rng, self.node_limit = slots, ready_time, rng, node_limit
        self.preempt_per_second = preempt_rate / 3600.0
        self.pack = fill == "pack"
        self.nodes: dict[int, Node] = {}
        self.free: dict[int, Node] = {}  # ready nodes with a free slot
        self.counts = [[0] * 4, [0] * 4]  # [spot][state]
        self.node_seconds = [0.0, 0.0]
        self.clock = 0.0
        self.events: list[tuple[float, int, int, int, int]] = []
        self._seq = self._ids = 0
        # Tasks, by id: parallel lists keep a week of tasks cheap.
        self.duration: list[float] = []
        self.arrived_at: list[float] = []
        self.queued_at: list[float] = []
        self.waited: list[float] = []
        self.attempt: list[int] = []
        self.on_node: list[Node | None] = []
        self.queue: deque[int] = deque()
        self.running = self.completed = self.terminated = self.requeued = 0
        self.waits: list[float] = []
        self.last_done = 0.0

    # Events -------------------------------------------------------------------------------------
    def push(self, at: float, kind: int, a: int = 0, b: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self.events, (at, self._seq, kind, a, b))

    def run_until(self, t: float, arrivals: list[tuple[float, int, float]]) -> None:
        events = self.events
        while events and events[0][0] <= t:
            at, _, kind, a, b = heapq.heappop(events)
            self.advance(at)
            if kind == ARRIVE:
                _, count, duration = arrivals[a]
                for _ in range(count):
                    self._new_task(at, duration)
            elif kind == FINISH:
                self._finish(a, b, at)
            else:
                node = self.nodes.get(a)
                if node is not None and node.token == b:
                    self._node_event(kind, node, at)
            self.dispatch(at)
        self.advance(t)

    def advance(self, t: float) -> None:
        if t > self.clock:
            span = t - self.clock
            for spot in (0, 1):
                c = self.counts[spot]
                self.node_seconds[spot] += (c[ALLOCATING] + c[READY] + c[DRAINING]) * span
            self.clock = t

    # Tasks --------------------------------------------------------------------------------------
    def _new_task(self, t: float, duration: float) -> None:
        self.duration.append(duration)
        self.arrived_at.append(t)
        self.queued_at.append(t)
        self.waited.append(0.0)
        self.attempt.append(0)
        self.on_node.append(None)
        self.queue.append(len(self.duration) - 1)

    def dispatch(self, t: float) -> None:
        free, queue = self.free, self.queue
        while queue and free:
            if len(free) == 1:
                node = next(iter(free.values()))
            elif self.pack:
                node = max(free.values(), key=lambda n: (len(n.running), -n.id))
            else:
                node = min(free.values(), key=lambda n: (len(n.running), n.id))
            task = queue.popleft()
            # Microseconds: event times are sums of floats, and 1e-13 s of noise is not a wait.
            self.waited[task] = round(self.waited[task] + t - self.queued_at[task], 6)
            self.attempt[task] += 1
            self.on_node[task] = node
            node.running.add(task)
            self.running += 1
            if len(node.running) >= self.slots:
                del free[node.id]
            self.push(t + self.duration[task], FINISH, task, self.attempt[task])

    def _finish(self, task: int, attempt: int, t: float) -> None:
        node = self.on_node[task]
        if node is None or attempt != self.attempt[task]:
            return  # the task was requeued or ended since
        self._release(task, node)
        self.completed += 1
        self.waits.append(self.waited[task])
        self.last_done = t
        if node.state == DRAINING and not node.running:
            self._drop(node)
        elif node.state == READY:
            self.free[node.id] = node

    def _release(self, task: int, node: Node) -> None:
        node.running.discard(task)
        self.on_node[task] = None
        self.attempt[task] += 1
        self.running -= 1

    def _requeue_all(self, node: Node, t: float) -> None:
        for task in sorted(node.running, reverse=True):
            self._release(task, node)
            self.queued_at[task] = t
            self.queue.appendleft(task)
            self.requeued += 1

    # Nodes --------------------------------------------------------------------------------------
    def _move(self, node: Node, state: int) -> None:
        spot = int(node.spot)
        self.counts[spot][node.state] -= 1
        self.counts[spot][state] += 1
        # Draining and undraining keep the node's pending preemption; other moves make events stale.
        if DRAINING not in (state, node.state):
            node.token += 1
        node.state = state

    def _drop(self, node: Node) -> None:
        self.counts[int(node.spot)][node.state] -= 1
        self.nodes.pop(node.id, None)
        self.free.pop(node.id, None)

    def _node_event(self, kind: int, node: Node, t: float) -> None:
        if kind in (NODE_READY, RECOVER):
            self._move(node, READY)
            self.free[node.id] = node
            self._schedule_preemption(node, t)
        elif kind == PREEMPT and node.state in (READY, DRAINING):
            self._requeue_all(node, t)
            self.free.pop(node.id, None)
            if node.state == DRAINING:
                self._drop(node)
                return
            self._move(node, PREEMPTED)
            self.push(t + self.ready_time, RECOVER, node.id, node.token)

    def _schedule_preemption(self, node: Node, t: float) -> None:
        if node.spot and self.preempt_per_second > 0:
            self.push(t + self.rng.expovariate(self.preempt_per_second), PREEMPT, node.id, node.token)

    def resize(self, t: float, dedicated: int, spot: int, option: str) -> None:
        self.advance(t)
        for is_spot, target in ((False, dedicated), (True, spot)):
            mine = [n for n in self.nodes.values() if n.spot == is_spot]
            staying = [n for n in mine if n.state != DRAINING]
            diff = min(target, self.node_limit) - len(staying)
            if diff > 0:
                for node in [n for n in mine if n.state == DRAINING][:diff]:
                    self._move(node, READY)
                    if len(node.running) < self.slots:
                        self.free[node.id] = node
                    diff -= 1
                for _ in range(diff):
                    self._ids += 1
                    node = Node(self._ids, is_spot)
                    self.nodes[node.id] = node
                    self.counts[int(is_spot)][ALLOCATING] += 1
                    self.push(t + self.ready_time, NODE_READY, node.id, node.token)
            elif diff < 0:
                order = {PREEMPTED: 0, ALLOCATING: 1, READY: 2}
                victims = sorted(staying, key=lambda n: (order[n.state], len(n.running), -n.id))
                for node in victims[:-diff]:
                    self._remove(node, option, t)
        self.dispatch(t)

    def _remove(self, node: Node, option: str, t: float) -> None:
        if node.running and option in ("taskcompletion", "retaineddata"):
            self._move(node, DRAINING)
            self.free.pop(node.id, None)
            return
        if option == "terminate":
            for task in list(node.running):
                self._release(task, node)
                self.terminated += 1
                self.last_done = t
        else:
            self._requeue_all(node, t)
        self._drop(node)

    # Views --------------------------------------------------------------------------------------
    def current(self, spot: bool) -> int:
        return sum(self.counts[int(spot)])

    def ready(self, spot: bool) -> int:
        c = self.counts[int(spot)]
        return c[READY] + c[DRAINING]

    def billed(self, spot: bool) -> int:
        c = self.counts[int(spot)]
        return c[ALLOCATING] + c[READY] + c[DRAINING]
