"""Which pending event runs next: the one replaceable place where that is decided.

The default `Scheduler` runs events in time order, and events at the same time in the order
they were scheduled (a sequence number breaks ties, as in SimPy): determinism by
construction. A model checker replaces it with a scheduler that picks among the pending
events itself (see `distlab.check`), on the same node code.

An entry is a tuple ``(time, seq, fn, arg)``; running it means calling ``fn(arg)`` once the
simulation's clock is set to ``time``.

With many pending events (a simulation of thousands of nodes) the default scheduler keeps
only the events of the current slot of time in its heap, and the later ones in a
`CalendarQueue` (see `distlab.sim.calendar_queue`): same order, less work per event.
"""

from __future__ import annotations

import heapq
import math
from itertools import count
from typing import Any, Callable

from distlab.sim.calendar_queue import BUCKET_TARGET, SAMPLE, CalendarQueue, slot_end, width_for

Entry = tuple[float, int, Callable[[Any], None], Any]

#: past this many pending entries the default scheduler moves the later ones to a calendar
CALENDAR_FROM = 8192
#: and below this many it goes back to a plain heap (far enough below not to switch to and
#: fro around one size)
HEAP_BELOW = 2048
#: a calendar is rebuilt with a new width when its buckets hold on average this many times
#: more, or fewer, entries than `distlab.sim.calendar_queue.BUCKET_TARGET`
RETUNE_FACTOR = 4
#: ...judged once it has handed out at least this many buckets
RETUNE_AFTER = 32


class Scheduler:
    """A heap of pending events, earliest first.

    The simulation adds entries straight onto ``heap`` (with sequence numbers from ``seq``)
    because that is its hottest path; a scheduler decides only which entry runs next, in
    `pop`. A scheduler that explores other orders overrides `pop`.

    Invariant: ``heap`` holds the pending entries whose time is before ``horizon``, and
    ``calendar`` the others. While few events are pending, ``horizon`` is infinite and
    ``calendar`` None: ``heap`` is every pending entry (a scheduler that picks events itself
    relies on it, and only the default scheduler ever leaves that mode: see `adapt`). So an
    entry goes to ``heap`` if its time is before ``horizon``, else to ``calendar``; and when
    ``heap`` runs dry, `refill` moves the calendar's next bucket into it.
    """

    def __init__(self) -> None:
        self.heap: list[Entry] = []
        self.seq = count()
        self.horizon = math.inf
        self.calendar: CalendarQueue | None = None

    def push(self, time: float, fn: Callable[[Any], None], arg: Any,
             _heappush: Callable = heapq.heappush) -> None:
        """Add an event."""
        if time < self.horizon:
            _heappush(self.heap, (time, next(self.seq), fn, arg))
        else:
            self.calendar.add((time, next(self.seq), fn, arg))  # type: ignore[union-attr]

    def pop(self, until: float | None = None,
            _heappop: Callable = heapq.heappop) -> Entry | None:
        """Remove and return the next event, or None if there is none at or before ``until``."""
        heap = self.heap
        if not heap and not self.refill():
            return None
        if until is not None and heap[0][0] > until:
            return None
        return _heappop(heap)

    def refill(self) -> bool:
        """With ``heap`` empty, move the calendar's next bucket into it; False if no entry
        is left anywhere."""
        if self.calendar is None:
            return False
        taken = self.calendar.take_next()
        if taken is None:
            return False
        bucket, self.horizon = taken
        self.heap += bucket  # in place: the simulation holds this very list
        heapq.heapify(self.heap)
        return True

    def pending(self) -> list[Entry]:
        """Every pending entry, in the order they would run."""
        return sorted(self._all_entries())

    def remove(self, entry: Entry) -> None:
        """Take a pending entry out (a scheduler that picks events itself needs this)."""
        if self.calendar is not None and entry[0] >= self.horizon:
            self.calendar.remove(entry)
            return
        self.heap.remove(entry)
        heapq.heapify(self.heap)

    def __len__(self) -> int:
        if self.calendar is None:
            return len(self.heap)
        return len(self.heap) + len(self.calendar)

    # -- heap or calendar ----------------------------------------------------------------------
    def adapt(self) -> None:
        """Keep a plain heap or a calendar, whichever suits the number of pending entries.

        The simulation calls it now and then (when a run starts, and between two batches of
        events), for the default scheduler only: a subclass may read ``heap`` as the list of
        every pending entry. A calendar whose buckets come out far from the size they should
        have is rebuilt with a width estimated afresh.
        """
        if self.calendar is None:
            if len(self.heap) > CALENDAR_FROM:
                self._to_calendar(self._estimate_width())
            return
        if len(self) < HEAP_BELOW:
            self._to_heap()
            return
        mean = self.calendar.mean_bucket()
        if self.calendar.taken >= RETUNE_AFTER and mean is not None and not (
                BUCKET_TARGET / RETUNE_FACTOR <= mean <= BUCKET_TARGET * RETUNE_FACTOR):
            width = self._estimate_width()
            if not (1 / RETUNE_FACTOR < width / self.calendar.width < RETUNE_FACTOR):
                self._to_heap()
                self._to_calendar(width)
            else:  # many events at the very same times: no width would split them
                self.calendar.taken = self.calendar.moved = 0

    def _estimate_width(self) -> float:
        entries = self._all_entries()
        step = max(1, len(entries) // SAMPLE)
        return width_for([entry[0] for entry in entries[::step]], len(entries))

    def _all_entries(self) -> list[Entry]:
        """Every pending entry, in no particular order."""
        if self.calendar is None:
            return list(self.heap)
        return [*self.heap, *self.calendar]

    def _to_calendar(self, width: float) -> None:
        """Keep in ``heap`` the entries of the earliest slot only; the rest go to a calendar."""
        heap = self.heap
        calendar = CalendarQueue(width)
        self.horizon = slot_end(heap[0][0] // width, width)
        near = []
        for entry in heap:
            if entry[0] < self.horizon:
                near.append(entry)
            else:
                calendar.add(entry)
        heap[:] = near  # in place: the simulation holds this very list
        heapq.heapify(heap)
        self.calendar = calendar

    def _to_heap(self) -> None:
        """Every pending entry back in ``heap``; no calendar."""
        if self.calendar is not None:
            self.heap += self.calendar
            heapq.heapify(self.heap)
        self.calendar = None
        self.horizon = math.inf
