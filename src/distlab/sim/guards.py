"""What surrounds a run of the simulator: a wall-clock limit, and the garbage collector.

`Simulation._loop` runs inside both context managers: `wall_clock_guard` interrupts node code
that runs too long in real time, and `gc_between_batches` keeps Python's cyclic garbage
collector from scanning the trace again and again without letting node code's garbage pile
up.
"""

from __future__ import annotations

import gc
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from distlab.sim.errors import ConfigurationError
from distlab.sim.times import checked_number

#: events run between two collections of the young cyclic garbage: the cycles node code drops
#: pile up for at most this many events (see gc_between_batches)
GC_BATCH = 10_000
#: if node code swallows the wall-clock alarm, it rings again after this many seconds
ALARM_REPEAT_S = 0.1


class Alarm(BaseException):
    """Raised inside node code when the wall-clock limit rings.

    A BaseException, so that a handler's ``except Exception`` cannot swallow it; the run loop
    turns it into a `WallClockLimitExceeded` that says where the time went.
    """


@contextmanager
def gc_between_batches() -> Iterator[Callable[[], object]]:
    """Let Python's cyclic garbage collector run between batches of events, never during one.

    Left to itself, the collector would run every few hundred allocations, and now and then
    scan every object alive -- the trace's hundreds of thousands of messages again and
    again (it doubled the cost of a run). Switched off for a whole run, it let the cycles
    that node code drops pile up (an untraced run of 2M events, each dropping one small
    cycle, peaked at 383 MB; now at 17 MB). So it is off during a run, and
    `Simulation._loop` calls the function this yields every `GC_BATCH` events: a collection
    of the two young generations only, which frees the cycles made since the last one and
    moves what survives (the trace's messages) to the old generation, where no collection
    visits it again during the run. Reference counting frees everything else as usual. If
    the collector was off before the run, it stays off and nothing is collected.
    """
    if not gc.isenabled():
        yield _collect_nothing
        return
    gc.disable()
    try:
        yield _collect_young_garbage
    finally:
        gc.enable()


def _collect_young_garbage() -> object:
    return gc.collect(1)


def _collect_nothing() -> object:
    return None


@contextmanager
def wall_clock_guard(limit: float | None, what: str) -> Iterator[None]:
    """Interrupt the run after ``limit`` seconds of real time, even inside a handler's loop.

    Uses SIGALRM where it can (the main thread on Unix, as in a Jupyter kernel); elsewhere the
    limit is not enforced inside a single handler.
    """
    if limit is None:
        yield
        return
    limit = checked_number(limit, "wall_limit", if_infinite="for no limit, leave wall_limit "
                           "out (None)")
    if limit <= 0:
        raise ConfigurationError(f"wall_limit must be a positive number of seconds, got {limit!r}")
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise Alarm(f"{what} exceeded {limit} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    # If node code swallows the first alarm, it rings again until the run stops.
    signal.setitimer(signal.ITIMER_REAL, limit, ALARM_REPEAT_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
