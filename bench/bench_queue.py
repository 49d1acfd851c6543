"""The scheduler's queue alone: a plain heap against the calendar, by number of pending events.

The classic "hold" workload of event-queue studies: N events pending; take the earliest, and
schedule one more at its time plus a random delay of up to 100 ms (as a periodic timer
does), so N stays constant. Each size runs with the default `Scheduler` kept a plain heap,
and with it switched to its calendar (`distlab.sim.calendar_queue`), in turns, three times;
printed: the median microseconds of CPU per hold (one pop and one push) and calendar/heap.
"""

from __future__ import annotations

import random
import statistics
import time

from distlab.sim.scheduler import Scheduler

SIZES = (100, 1_000, 10_000, 100_000)
HOLDS = 300_000
ROUNDS = 3


def nothing(arg: object) -> None:
    """An entry's function (never called)."""


def hold(n: int, calendar: bool) -> float:
    """Microseconds of CPU per hold with ``n`` events pending."""
    rng = random.Random(1)
    scheduler = Scheduler()
    for i in range(n):
        scheduler.push(100 * rng.random(), nothing, (f"n{i}", "tick"))
    if calendar:
        scheduler._to_calendar(scheduler._estimate_width())
    pop, push = scheduler.pop, scheduler.push
    began = time.process_time()
    for _ in range(HOLDS):
        now, _, fn, arg = pop()
        push(now + 100 * rng.random(), fn, arg)
    return (time.process_time() - began) / HOLDS * 1e6


def main() -> None:
    print(f"{'pending':>8} {'heap us':>8} {'calendar us':>12} {'calendar/heap':>14}")
    for n in SIZES:
        heap, calendar = [], []
        for _ in range(ROUNDS):
            heap.append(hold(n, calendar=False))
            calendar.append(hold(n, calendar=True))
        h, c = statistics.median(heap), statistics.median(calendar)
        print(f"{n:>8,} {h:>8.2f} {c:>12.2f} {c / h:>14.2f}", flush=True)


if __name__ == "__main__":
    main()
