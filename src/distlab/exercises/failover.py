"""The first page's mini-exercise: how long does an operation take while the nearest store is
down?

On the replicated service of `distlab.kv.world`, with each link at exactly its typical latency,
`store-us` is down and ``user-us`` asks it first, as always. The reader adds up, by hand, what
the user waits: the timeout, then the round trip to the next store of its list (Europe, 40 ms
each way) and that store's 2 ms of work. `check_failover_time` measures it in the simulator and,
for a wrong answer, names the part of the sum it misses.
"""

from __future__ import annotations

import statistics

from distlab.exercises import Feedback, close_to, not_quite, right
from distlab.kv.world import LOCAL_MS, ONE_WAY_MS, durations, replicated

#: the user's timeout before it tries the next store (ms)
TIMEOUT = 300.0
#: a store's work on one request (ms)
SERVICE_MS = 2.0
#: the crash: store-us is down from DOWN[0] to DOWN[1] ms
DOWN = (1_000.0, 4_000.0)


def measured_failover(seed: int = 1) -> float:
    """The median duration (ms) of user-us's operations while store-us is down, with every
    link at its typical latency."""
    sim = replicated(seed, spread=0.0, timeout=TIMEOUT)
    sim.at(DOWN[0], sim.crash, "store-us")
    sim.at(DOWN[1], sim.restart, "store-us")
    sim.run(until=DOWN[1])
    # operations invoked after the crash and done before the restart
    return statistics.median(durations(sim, user="user-us", start=DOWN[0],
                                       end=DOWN[1] - 2 * TIMEOUT))


def check_failover_time(answer: float) -> Feedback:
    """Whether ``answer`` (ms) is how long user-us's operation takes while store-us is down;
    if not, which part of timeout + round trip to Europe + work it misses."""
    truth = measured_failover()
    eu_us = ONE_WAY_MS[frozenset({"eu", "us"})]
    asia_us = ONE_WAY_MS[frozenset({"us", "asia"})]
    if not isinstance(answer, int | float) or isinstance(answer, bool):
        return not_quite(f"the answer is a number of milliseconds, not {answer!r}")
    if close_to(answer, truth, 0.5):
        return right(f"{TIMEOUT:g} ms waiting for the crashed store, then {eu_us} + "
                     f"{SERVICE_MS:g} + {eu_us} ms to Europe and back: {truth:g} ms (measured). "
                     f"Nearly all of it is the timeout: the user cannot tell a dead store from "
                     f"a slow one any sooner.")
    if close_to(answer, truth - TIMEOUT, 0.5):
        return not_quite(f"{answer:g} ms is the trip to Europe alone; first the user waits "
                         f"{TIMEOUT:g} ms for the crashed store before it gives up on it")
    if close_to(answer, truth - SERVICE_MS, 0.5):
        return not_quite(f"close: the store in Europe also works {SERVICE_MS:g} ms on the "
                         "request before it answers")
    if close_to(answer, TIMEOUT + eu_us + SERVICE_MS, 0.5):
        return not_quite(f"{answer:g} ms brings the request to Europe; the answer must still "
                         f"travel {eu_us} ms back to the user")
    if close_to(answer, TIMEOUT + 2 * asia_us + SERVICE_MS, 0.5):
        return not_quite(f"the user's list is nearest first: after store-us it tries "
                         f"store-eu ({eu_us} ms away), not store-asia ({asia_us} ms)")
    local_trip = 2 * LOCAL_MS + SERVICE_MS
    if close_to(answer, TIMEOUT, 0.5) or close_to(answer, TIMEOUT + local_trip, 0.5):
        return not_quite("the timeout only ends the wait for store-us; the user then sends "
                         "the request again, to the next store of its list")
    return not_quite(f"add up what the user waits: its timeout for the crashed store, then the "
                     f"round trip to the next store and that store's work; {answer:g} ms is not "
                     f"that sum")
