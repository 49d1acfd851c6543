"""The failures page's mini-exercise: when does a timeout detector notice a crash?

A sender beats every `EVERY` ms (the first beat at `EVERY`) over a link of a constant
`LATENCY` ms; the detector suspects it `TIMEOUT` ms after the last heartbeat *arrived*. The
sender crashes at `CRASH_AT` ms. The reader computes how long after the crash the detector
suspects it; `check_detection_time` runs the same scenario with the library's detector
(`distlab.membership.runs.slow_or_dead`, no latency spikes) and compares.
"""

from __future__ import annotations

from distlab.exercises import Feedback, close_to, not_quite, right
from distlab.membership.runs import slow_or_dead
from distlab.sim import Constant

EVERY = 50.0
LATENCY = 10.0
TIMEOUT = 200.0
CRASH_AT = 130.0


def measured_detection_time() -> float:
    """ms from the crash to the detector's suspicion, measured in the simulator."""
    run = slow_or_dead(seed=1, timeout=TIMEOUT, duration=1_000, crash_at=CRASH_AT,
                       every=EVERY, latency=Constant(LATENCY), spike_every=1e12)
    if run.detection_time is None:
        raise RuntimeError("the detector never suspected the crashed sender")
    return run.detection_time


def check_detection_time(answer: float) -> Feedback:
    """Whether ``answer`` (ms) is how long after the crash the detector suspects the sender."""
    truth = measured_detection_time()
    last_sent = CRASH_AT // EVERY * EVERY
    since = CRASH_AT - last_sent
    if close_to(answer, truth, 0.01):
        return right(f"the last heartbeat left at {last_sent:g} ms, {since:g} ms before the "
                     f"crash, and arrived {LATENCY:g} ms later: {TIMEOUT:g} - {since:g} + "
                     f"{LATENCY:g} = {truth:g} ms.")
    if not isinstance(answer, int | float) or isinstance(answer, bool):
        return not_quite(f"the answer is a number of milliseconds, not {answer!r}")
    if close_to(answer, TIMEOUT, 0.01):
        return not_quite("the timer does not start at the crash: it started when the last "
                         "heartbeat arrived, before the crash")
    if close_to(answer, TIMEOUT - since, 0.01):
        return not_quite(f"close: the timer starts when the last heartbeat *arrives*, "
                         f"{LATENCY:g} ms after it was sent")
    if close_to(answer, TIMEOUT + LATENCY, 0.01):
        return not_quite(f"the last heartbeat was sent {since:g} ms *before* the crash: that "
                         f"much of the timeout had already run")
    return not_quite("find the last heartbeat sent before the crash; the detector suspects "
                     "the sender a timeout after that heartbeat arrives")
