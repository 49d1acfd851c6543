"""Event-time windows over an out-of-order stream, with watermarks (Flink's model).

A stream processor such as Flink {cite:p}`carbone2015flink` counts, say, clicks per minute.
Which minute? The **event time** -- when the click happened -- not the **processing time**
when the record reached the operator: records travel by different paths and arrive out of
order. An operator that grouped by arrival would put a late record in the wrong window.

So the operator keeps a window open until a **watermark** says that no record older than some
time ``w`` should still come; then it *fires* every window that ends at or before ``w``. Here
the watermark trails the largest event time seen by ``lag`` (a bounded-out-of-orderness
watermark): a larger lag waits longer and misses fewer records. A record that arrives after
its window fired is **late**: dropped -- or, within ``allowed_lateness``, counted into an
*updated* result for its window, as Flink's allowed lateness does.

`tumbling_counts` runs that operator over a stream; `processing_time_counts` is the naive one
that windows by arrival; `true_counts` is the answer with every record in its window.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from distlab.sim import stream


@dataclass(frozen=True)
class Record:
    """One record of the stream: what happened (``key``), when (``event_time``, s) and
    when the operator received it (``arrival``, s)."""

    key: str
    event_time: float
    arrival: float


@dataclass(frozen=True)
class Firing:
    """A window's result as emitted: counts per key for window ``[start, start + size)``,
    emitted when the watermark reached ``watermark``; ``update`` for a late correction."""

    start: float
    counts: tuple[tuple[str, int], ...]
    watermark: float
    update: bool = False


@dataclass
class WindowRun:
    """What `tumbling_counts` produced: the firings in order, and the records dropped as
    late."""

    firings: list[Firing] = field(default_factory=list)
    late: list[Record] = field(default_factory=list)

    def final_counts(self) -> dict[float, dict[str, int]]:
        """The last result emitted for each window: window start -> key -> count."""
        return {f.start: dict(f.counts) for f in self.firings}


def out_of_order_stream(n: int, *, seed: int = 0, rate: float = 4.0, max_delay: float = 3.0,
                        keys: tuple[str, ...] = ("home", "cart", "pay")) -> list[Record]:
    """``n`` records, one every ``1/rate`` s of event time on average, each delayed by a
    random 0 to ``max_delay`` s on its way (a few by up to 3x that: stragglers), in the
    order they arrive."""
    if n < 0 or rate <= 0 or max_delay < 0:
        raise ValueError(f"need n >= 0, rate > 0 and max_delay >= 0; got n={n}, rate={rate}, "
                         f"max_delay={max_delay}")
    rng = stream(seed, "compute-stream")
    records, t = [], 0.0
    for _ in range(n):
        t += rng.expovariate(rate)
        delay = rng.uniform(0, max_delay) * (3 if rng.random() < 0.05 else 1)
        records.append(Record(rng.choice(keys), round(t, 3), round(t + delay, 3)))
    return sorted(records, key=lambda r: (r.arrival, r.event_time))


def window_of(time: float, size: float) -> float:
    """The start of the tumbling window of length ``size`` that holds ``time``."""
    return (time // size) * size


def true_counts(records: Iterable[Record], size: float) -> dict[float, dict[str, int]]:
    """Counts per window of event time, with every record in its window: the right answer."""
    windows: dict[float, Counter[str]] = {}
    for r in records:
        windows.setdefault(window_of(r.event_time, size), Counter())[r.key] += 1
    return {start: dict(sorted(c.items())) for start, c in sorted(windows.items())}


def processing_time_counts(records: Iterable[Record], size: float
                           ) -> dict[float, dict[str, int]]:
    """Counts per window of *arrival* time: what an operator that ignores event time gets."""
    windows: dict[float, Counter[str]] = {}
    for r in records:
        windows.setdefault(window_of(r.arrival, size), Counter())[r.key] += 1
    return {start: dict(sorted(c.items())) for start, c in sorted(windows.items())}


def tumbling_counts(records: Iterable[Record], size: float, *, lag: float,
                    allowed_lateness: float = 0.0) -> WindowRun:
    """Count records per key in tumbling event-time windows of ``size`` s, firing a window
    once the watermark (largest event time seen minus ``lag``) passes its end. A record for
    a window that has fired is dropped as late, unless the watermark is still within
    ``allowed_lateness`` of the window's end: then the window fires again, updated. Windows
    still open at the end of the stream fire then (the final watermark is +infinity)."""
    if size <= 0 or lag < 0 or allowed_lateness < 0:
        raise ValueError(f"need size > 0, lag >= 0 and allowed_lateness >= 0; got "
                         f"size={size}, lag={lag}, allowed_lateness={allowed_lateness}")
    run = WindowRun()
    open_windows: dict[float, Counter[str]] = {}
    fired: dict[float, Counter[str]] = {}   # kept for late updates
    watermark = float("-inf")

    def fire(start: float, counts: Counter[str], update: bool) -> None:
        run.firings.append(Firing(start, tuple(sorted(counts.items())), watermark, update))

    for r in records:
        start = window_of(r.event_time, size)
        if start + size <= watermark:  # the window has closed
            if watermark < start + size + allowed_lateness:
                fired.setdefault(start, Counter())[r.key] += 1
                fire(start, fired[start], update=True)
            else:
                run.late.append(r)
        else:
            open_windows.setdefault(start, Counter())[r.key] += 1
        watermark = max(watermark, r.event_time - lag)
        for ready in sorted(s for s in open_windows if s + size <= watermark):
            fired[ready] = open_windows.pop(ready)
            fire(ready, fired[ready], update=False)
    watermark = float("inf")
    for ready in sorted(open_windows):
        fire(ready, open_windows.pop(ready), update=False)
    return run
