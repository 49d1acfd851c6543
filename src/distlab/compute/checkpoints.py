"""Checkpoint barriers at an operator with two inputs: why Flink aligns them.

Flink {cite:p}`carbone2015snapshots` snapshots a running graph the way Chandy and Lamport's
markers do {cite:p}`chandy1985snapshots`: each source puts a *barrier* into its stream and
saves its position there; an operator saves its state when the barrier has reached it. An
operator with several inputs must decide *when*: the snapshot is consistent only if its state
counts exactly the records that come before the barrier on every input.

`snapshot_and_recover` plays one such operator (a running sum over two FIFO channels ``A``
and ``B``), the barrier arriving on each channel at a different moment, under three rules:

* ``"aligned"`` -- after the barrier arrives on one input, hold back that input's records
  until it has arrived on the other, then save the state: Flink's aligned checkpoint;
* ``"first barrier"`` -- save the state at the first barrier and go on: misses the other
  input's records still in flight before its barrier;
* ``"last barrier"`` -- save at the last barrier without holding anything back: includes
  records that come *after* the first input's barrier.

Then it recovers: the saved state, plus every record after each source's saved position,
replayed. Only the aligned rule gets the total of a run with no failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from distlab.sim import stream

RULES = ("aligned", "first barrier", "last barrier")
BARRIER = None  # the barrier, in a channel of numbers


@dataclass(frozen=True)
class Recovery:
    """The outcome of one rule: the state saved, the total after recovery, the true total."""

    rule: str
    saved: int
    recovered: int
    expected: int

    @property
    def error(self) -> int:
        """Records counted twice (> 0) or lost (< 0) by recovering from this snapshot."""
        return self.recovered - self.expected


def channels(n: int, barrier_at: int, *, seed: int = 0) -> dict[str, list[int | None]]:
    """Two channels ``A`` and ``B`` of ``n`` records (small numbers) each, with the barrier
    after the first ``barrier_at`` records of each."""
    if not 0 <= barrier_at <= n:
        raise ValueError(f"the barrier goes after 0 to {n} records; got {barrier_at}")
    rng = stream(seed, "compute-checkpoint")
    result: dict[str, list[int | None]] = {}
    for name in ("A", "B"):
        values: list[int | None] = [rng.randint(1, 9) for _ in range(n)]
        result[name] = values[:barrier_at] + [BARRIER] + values[barrier_at:]
    return result


def arrival_order(inputs: dict[str, list[int | None]], *, seed: int = 0) -> list[str]:
    """A random interleaving of the channels: which channel delivers next, item by item
    (each channel stays FIFO)."""
    rng = stream(seed, "compute-arrivals")
    order = [name for name, items in inputs.items() for _ in items]
    rng.shuffle(order)
    return order


def snapshot_and_recover(inputs: dict[str, list[int | None]], order: Sequence[str],
                         rule: str) -> Recovery:
    """Run the summing operator over ``inputs`` delivered in ``order``, save its state by
    ``rule``, and recover from that snapshot (see the module's docstring)."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}; got {rule!r}")
    if sorted(order) != sorted(name for name, items in inputs.items() for _ in items):
        raise ValueError("order must name each channel once per item it holds")
    position = {name: 0 for name in inputs}
    held: dict[str, list[int]] = {name: [] for name in inputs}
    barriers: set[str] = set()
    state, saved = 0, None
    for name in order:
        item = inputs[name][position[name]]
        position[name] += 1
        if item is BARRIER:
            barriers.add(name)
            if saved is None and (rule == "first barrier" or len(barriers) == len(inputs)):
                saved = state
                if rule == "aligned":
                    state += sum(sum(values) for values in held.values())
                    held = {n: [] for n in inputs}
        elif rule == "aligned" and name in barriers and saved is None:
            held[name].append(item)    # after this input's barrier: wait for the other's
        else:
            state += item
    assert saved is not None
    after_barrier = sum(v for items in inputs.values()
                        for v in items[items.index(BARRIER) + 1:] if v is not None)
    expected = sum(v for items in inputs.values() for v in items if v is not None)
    return Recovery(rule, saved, saved + after_barrier, expected)
