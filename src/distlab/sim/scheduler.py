"""Which pending event runs next: the one replaceable place where that is decided.

The default `Scheduler` runs events in time order, and events at the same time in the order
they were scheduled (a sequence number breaks ties, as in SimPy): determinism by
construction. A model checker replaces it with a scheduler that picks among the pending
events itself (see `distlab.check`), on the same node code.

An entry is a tuple ``(time, seq, fn, arg)``; running it means calling ``fn(arg)`` once the
simulation's clock is set to ``time``.
"""

from __future__ import annotations

import heapq
from itertools import count
from typing import Any, Callable

Entry = tuple[float, int, Callable[[Any], None], Any]


class Scheduler:
    """A heap of pending events, earliest first.

    The simulation adds entries straight onto ``heap`` (with sequence numbers from ``seq``)
    because that is its hottest path; a scheduler decides only which entry runs next, in
    `pop`. A scheduler that explores other orders overrides `pop`.
    """

    def __init__(self) -> None:
        self.heap: list[Entry] = []
        self.seq = count()

    def push(self, time: float, fn: Callable[[Any], None], arg: Any,
             _heappush: Callable = heapq.heappush) -> None:
        """Add an event."""
        _heappush(self.heap, (time, next(self.seq), fn, arg))

    def pop(self, until: float | None = None,
            _heappop: Callable = heapq.heappop) -> Entry | None:
        """Remove and return the next event, or None if there is none at or before ``until``."""
        heap = self.heap
        if not heap or (until is not None and heap[0][0] > until):
            return None
        return _heappop(heap)

    def pending(self) -> list[Entry]:
        """Every pending entry, in the order they would run."""
        return sorted(self.heap)

    def remove(self, entry: Entry) -> None:
        """Take a pending entry out (a scheduler that picks events itself needs this)."""
        self.heap.remove(entry)
        heapq.heapify(self.heap)

    def __len__(self) -> int:
        return len(self.heap)
