"""The RPC page's mini-exercise: the waits of exponential backoff, by hand.

With the page's backoff policy (`POLICY`: base 100 ms, multiplier 2, cap 3,200 ms, no jitter)
the reader lists the waits before the first `RETRIES` retries. `check_backoff` compares each
with `RetryPolicy.wait`, the code the clients of the page run, and explains the first wrong one
by the rule ``min(cap, base * multiplier ** k)``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from distlab.exercises import Feedback, not_quite, right
from distlab.rpc.retries import RetryPolicy

POLICY = RetryPolicy(base=100, multiplier=2, cap=3_200)
RETRIES = 7


def check_backoff(waits: Sequence[float], policy: RetryPolicy = POLICY) -> Feedback:
    """Whether ``waits`` are the waits (ms) before retries 0, 1, ..., `RETRIES` - 1."""
    if isinstance(waits, str) or not isinstance(waits, Sequence):
        return not_quite("write the waits as a list of numbers of ms, such as [100, ...]")
    if len(waits) != RETRIES:
        return not_quite(f"list the waits before the first {RETRIES} retries: {len(waits)} "
                         f"given")
    rng = random.Random(0)   # unused without jitter, but wait() takes one
    truth = [policy.wait(k, rng) for k in range(RETRIES)]
    for k, (given, want) in enumerate(zip(waits, truth)):
        if given != want:
            raw = policy.base * policy.multiplier ** k
            capped = " the cap," if raw > policy.cap else ""
            return not_quite(f"the wait before retry {k + 1} is min({policy.cap:g}, "
                             f"{policy.base:g} × {policy.multiplier:g}^{k} = {raw:g}) = "
                             f"{want:g} ms,{capped} not {given!r}")
    return right(f"{sum(truth):g} ms of waiting in all over {RETRIES} retries; without the cap "
                 f"the 7th wait alone would be {policy.base * policy.multiplier ** 6:g} ms.")
