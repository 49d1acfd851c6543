"""The two timings every leader-based protocol of chapter 4 takes, checked in one place.

A follower suspects its leader after a random timeout drawn from ``(low, high)``; a leader
speaks at least every ``interval`` ms while it is idle. The interval must be shorter than the
shortest timeout, or followers replace a leader that is doing nothing wrong.
"""

from __future__ import annotations


def leader_timings(timeout: tuple[float, float], interval: float, *,
                   names: tuple[str, str] = ("election_timeout", "heartbeat_interval"),
                   otherwise: str = "followers would start elections against a healthy leader"
                   ) -> tuple[float, float]:
    """``timeout`` as floats, once checked against ``interval``; ValueError naming the
    parameters (``names``) and what would go wrong (``otherwise``) if they do not fit.

    >>> leader_timings((150, 300), 50)
    (150.0, 300.0)
    """
    try:
        low, high = timeout
    except (TypeError, ValueError):
        raise ValueError(f"{names[0]} must be a range (low, high); got {timeout!r}") from None
    if not 0 < low <= high:
        raise ValueError(f"{names[0]} must be a range (low, high) with 0 < low <= high; "
                         f"got {timeout!r}")
    if not 0 < interval < low:
        raise ValueError(f"{names[1]} ({interval}) must be positive and shorter than the "
                         f"{names[0].replace('_', ' ')} ({low}), or {otherwise}")
    return float(low), float(high)
