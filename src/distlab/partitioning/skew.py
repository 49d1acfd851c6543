"""Skewed workloads: a few keys get most of the requests (a Zipf-like popularity).

Real access patterns are rarely uniform: a celebrity's profile, today's date, the front page.
Under a Zipf law with exponent ``s`` the key of popularity rank ``r`` (1 = most popular) gets
a share of requests proportional to ``1 / r**s``; with ``s = 1`` and ten thousand keys the
most popular key alone gets about 10% of all requests, the top 1% of keys about half.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence


def zipf_weights(n: int, exponent: float = 1.0) -> list[float]:
    """The probability of each popularity rank 1..n under a Zipf law (they sum to 1).

    >>> [round(w, 3) for w in zipf_weights(3)]
    [0.545, 0.273, 0.182]
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n is the number of keys, a whole number >= 1; got {n!r}")
    if exponent < 0:
        raise ValueError(f"the Zipf exponent must be >= 0 (0 is uniform); got {exponent!r}")
    raw = [1 / rank ** exponent for rank in range(1, n + 1)]
    total = sum(raw)
    return [w / total for w in raw]


def zipf_requests(keys: Sequence[str], count: int, exponent: float = 1.0,
                  seed: int = 0) -> list[str]:
    """``count`` requests drawn from ``keys``, ``keys[0]`` the most popular, ``keys[1]`` the
    next, ...: to make popularity follow some other order, pass the keys in that order."""
    if not keys:
        raise ValueError("zipf_requests needs at least one key to request")
    cumulative = list(itertools.accumulate(zipf_weights(len(keys), exponent)))
    return random.Random(seed).choices(keys, cum_weights=cumulative, k=count)
