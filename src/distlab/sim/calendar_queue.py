"""A calendar queue: pending events sorted into buckets by slot of time, for large simulations.

A binary heap keeps the earliest of N pending events on top at a cost of about log2(N)
comparisons per push and per pop. That is few, but with 100,000 pending events each
comparison reads a tuple somewhere else in memory, mostly not in the processor's cache: a pop
and a push then cost six times what they cost with 100 events.

A calendar (Brown, 1988) cuts time into slots of equal ``width``, like the days of a desk
diary, and drops each event into the bucket of its slot: an append to a short list, whatever
N is. Only the bucket of the current slot needs sorting, and it is small. The `Scheduler`
keeps that bucket as its ordinary heap, and takes the next bucket when the heap runs dry; so
a pop is a pop from a heap of a few hundred entries, and a push far ahead is an append.

Why not always? For a few hundred events the heap is already small and in the cache, and
the calendar's extra work (a division to find the slot, a dictionary of buckets, moving a
bucket into the heap) is pure cost: the `Scheduler` switches to a calendar only past
``CALENDAR_FROM`` pending events, and back below ``HEAP_BELOW``.

Order: an entry is ``(time, seq, fn, arg)``, and events run in (time, seq) order. A slot is
``time // width``, and ``width`` is a power of two, so that the division is exact: a later
time never gets an earlier slot, equal times always share a bucket, and every entry before
a slot's end (`slot_end`) is in that slot or an earlier one. Buckets are taken in slot
order, each one sorted as a heap: the order is exactly the heap's.

Choosing ``width``: a bucket should hold some hundreds of events. `width_for` estimates it
from how densely the pending events crowd the near future; the `Scheduler` measures the
buckets it takes and asks for a new estimate if they come out far too large or too small.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from heapq import heappop, heappush
from typing import Any

#: what a bucket should hold, in entries: few enough for a small heap, enough to make moving
#: a bucket into the heap rare
BUCKET_TARGET = 256
#: the widths are powers of two between these (in ms): a slot is never empty for
#: lack of precision, and ``time // width`` stays finite for any finite time
MIN_WIDTH = 2.0 ** -30
MAX_WIDTH = 2.0 ** 30
#: times sampled to estimate a width (a sample is enough to see the density)
SAMPLE = 1024

Entry = tuple[float, int, Any, Any]


class CalendarQueue:
    """Entries in buckets by slot of time (``time // width``); the earliest bucket first.

    ``buckets`` maps a slot to the list of its entries, in no order; ``slots`` is a heap of
    the slots that have a bucket, so the next bucket is found without scanning empty slots
    (a timer set hours ahead costs one bucket, not thousands of empty ones). It counts the
    buckets it hands out and the entries they held, which tell whether ``width`` suits the
    events (`mean_bucket`).
    """

    def __init__(self, width: float) -> None:
        if not (MIN_WIDTH <= width <= MAX_WIDTH) or math.frexp(width)[0] != 0.5:
            raise ValueError(f"a calendar's width is a power of two between {MIN_WIDTH} and "
                             f"{MAX_WIDTH} ms, got {width!r}")
        self.width = width
        self.buckets: dict[float, list[Entry]] = {}
        self.slots: list[float] = []
        self.taken = 0    # buckets handed out by take_next
        self.moved = 0    # entries in them

    def add(self, entry: Entry) -> None:
        """Put an entry in the bucket of its slot."""
        slot = entry[0] // self.width
        bucket = self.buckets.get(slot)
        if bucket is None:
            self.buckets[slot] = [entry]
            heappush(self.slots, slot)
        else:
            bucket.append(entry)

    def take_next(self) -> tuple[list[Entry], float] | None:
        """Remove the earliest bucket: its entries (unsorted) and the end of its slot.

        Every entry still in the calendar, and every entry added later whose time is not
        before that end, belongs to a later slot. None if the calendar is empty.
        """
        slots, buckets = self.slots, self.buckets
        while slots:
            slot = heappop(slots)
            bucket = buckets.pop(slot, None)
            if bucket:  # (None: its entries were all removed)
                self.taken += 1
                self.moved += len(bucket)
                return bucket, slot_end(slot, self.width)
        return None

    def remove(self, entry: Entry) -> None:
        """Take a pending entry out (ValueError if it is not here)."""
        slot = entry[0] // self.width
        bucket = self.buckets.get(slot)
        if bucket is None:
            raise ValueError(f"{entry!r} is not in the calendar")
        bucket.remove(entry)
        if not bucket:
            del self.buckets[slot]  # its slot stays in the heap: take_next skips it

    def mean_bucket(self) -> float | None:
        """How many entries the buckets taken so far held, on average (None: none taken)."""
        return self.moved / self.taken if self.taken else None

    def __len__(self) -> int:
        return sum(map(len, self.buckets.values()))

    def __iter__(self) -> Iterator[Entry]:
        for bucket in self.buckets.values():
            yield from bucket


def slot_end(slot: float, width: float) -> float:
    """The first time after slot ``slot``: a time ``t >= 0`` is in a later slot exactly when
    ``t >= slot_end(slot, width)``.

    ``(slot + 1) * width`` is exact while ``slot + 1`` is (below 2**53). Past that every
    float is a whole number of widths, a slot holds one time only (``slot * width``), and
    the next float after it ends the slot.
    """
    if slot < 2.0 ** 53:
        return (slot + 1.0) * width
    return math.nextafter(slot * width, math.inf)


def width_for(times: list[float], pending: int) -> float:
    """A slot width for which a bucket holds about `BUCKET_TARGET` events, estimated from
    ``times``, a sample of the times of the ``pending`` entries.

    It is the span from the earliest time to the `BUCKET_TARGET`-th earliest: how wide the
    first bucket must be to hold that many (read from the sample, so scaled by how many
    pending entries each sampled one stands for). Only the near future counts: timers set
    far ahead, however many, do not widen the slots. The result is a power of two (so that
    slots are exact) between `MIN_WIDTH` and `MAX_WIDTH`; when the times do not spread (all
    equal), any width serves, and it is 1 ms.
    """
    times = sorted(times)
    first = times[0]
    per_sample = pending / len(times)          # pending entries per sampled one
    k = min(max(math.ceil(BUCKET_TARGET / per_sample), 8), len(times) - 1)
    while k < len(times) - 1 and times[k] <= first:  # many at the very same time
        k += 1
    if times[k] <= first:
        return 1.0
    events_per_ms = k * per_sample / (times[k] - first)
    width = min(max(BUCKET_TARGET / events_per_ms, MIN_WIDTH), MAX_WIDTH)
    return 2.0 ** math.floor(math.log2(width))
