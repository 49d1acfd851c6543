"""Logical clocks: Lamport clocks, vector clocks, hybrid logical clocks.

Physical clocks disagree (skew) and run at slightly different rates (drift), so comparing
timestamps taken on different machines does not tell which event came first. Lamport, "Time,
Clocks, and the Ordering of Events in a Distributed System" (1978), replaced "earlier" by
*happens before*: a -> b if a comes before b in one process, or a is the sending of a message
and b its receipt, or a -> c -> b for some c. Two events neither of which happens before the
other are *concurrent*.

* `LamportClock` (Lamport 1978): a counter per process, such that a -> b implies
  L(a) < L(b) (the Clock Condition). The converse does not hold: L(a) < L(b) says nothing
  when a and b are concurrent.
* `VectorClock` (Fidge 1988; Mattern 1989): one counter per process; a -> b exactly when
  V(a) < V(b), so concurrency can be read off the timestamps.
* `HybridLogicalClock` (Kulkarni, Demirbas et al., "Logical Physical Clocks", 2014): a
  Lamport clock that stays close to physical time, as used by CockroachDB and MongoDB.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Relation = Literal["before", "after", "concurrent", "equal"]


# -- Lamport clocks -------------------------------------------------------------------------------
class LamportClock:
    """Lamport's logical clock ``C_i`` of one process.

    Implementation rules of the paper:

    * IR1: the clock ticks between any two successive events of the process (`tick`, also
      used by `send`: a send is an event);
    * IR2: (a) a message carries the time ``T_m`` of its sending; (b) the receiver sets its
      clock greater than or equal to its own time and greater than ``T_m``.

    `receive` does IR2 (b) and IR1's tick for the receive event in one step:
    ``C := max(C, T_m) + 1``.

    Ties between processes are broken by the process id: ordering events by
    ``(time, process_id)`` is Lamport's total order, the basis of totally ordered multicast.
    """

    def __init__(self, time: int = 0):
        self.time = time

    def tick(self) -> int:
        """A local event: advance the clock and return the event's timestamp."""
        self.time += 1
        return self.time

    def send(self) -> int:
        """A send event: advance the clock; the result is the timestamp ``T_m`` to attach."""
        return self.tick()

    def receive(self, stamp: int) -> int:
        """A receive event of a message stamped ``stamp``: ``C := max(C, T_m) + 1``."""
        self.time = max(self.time, stamp) + 1
        return self.time

    def __repr__(self) -> str:
        return f"LamportClock({self.time})"


# -- vector clocks --------------------------------------------------------------------------------
@dataclass(frozen=True)
class VectorClock:
    """A vector timestamp (Fidge 1988; Mattern 1989): for each process, how many of its
    events are known to have happened before.

    The value is immutable, so it can travel inside messages; operations return new clocks.
    Only non-zero counts are stored, sorted by process id (so equal clocks are ``==``).

    For events a, b with timestamps V(a), V(b): a -> b if and only if V(a) < V(b), that is
    every entry of V(a) is <= the one of V(b) and they differ.
    """

    entries: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        ids = [node for node, _ in self.entries]
        if ids != sorted(set(ids)) or any(not isinstance(n, int) or n <= 0
                                          for _, n in self.entries):
            raise ValueError(f"VectorClock entries must be (process, count) pairs sorted by "
                             f"process, each process once, counts positive; got "
                             f"{self.entries!r}. Build one with VectorClock.of({{'a': 1}}).")

    @classmethod
    def of(cls, counts: Mapping[str, int] | None = None) -> VectorClock:
        """The clock with these counts: ``VectorClock.of({"a": 2, "b": 1})``."""
        counts = counts or {}
        return cls(tuple(sorted((node, n) for node, n in counts.items() if n != 0)))

    def __getitem__(self, node: str) -> int:
        for other, n in self.entries:
            if other == node:
                return n
        return 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.entries)

    def increment(self, node: str) -> VectorClock:
        """The clock after an event of process ``node``: its own entry plus one."""
        counts = self.as_dict()
        counts[node] = counts.get(node, 0) + 1
        return VectorClock.of(counts)

    def merge(self, other: VectorClock) -> VectorClock:
        """The entry-wise maximum: what is known after hearing ``other``."""
        counts = self.as_dict()
        for node, n in other.entries:
            counts[node] = max(counts.get(node, 0), n)
        return VectorClock.of(counts)

    def compare(self, other: VectorClock) -> Relation:
        """``"before"`` (self -> other), ``"after"``, ``"equal"`` or ``"concurrent"``."""
        mine, theirs = self.as_dict(), other.as_dict()
        nodes = mine.keys() | theirs.keys()
        at_most = all(mine.get(n, 0) <= theirs.get(n, 0) for n in nodes)
        at_least = all(mine.get(n, 0) >= theirs.get(n, 0) for n in nodes)
        if at_most and at_least:
            return "equal"
        if at_most:
            return "before"
        if at_least:
            return "after"
        return "concurrent"

    def happens_before(self, other: VectorClock) -> bool:
        return self.compare(other) == "before"

    def concurrent_with(self, other: VectorClock) -> bool:
        return self.compare(other) == "concurrent"

    def format(self, nodes: Iterable[str]) -> str:
        """The counts of ``nodes``, in that order: ``[2,0,1]``."""
        return "[" + ",".join(str(self[node]) for node in nodes) + "]"

    def __str__(self) -> str:
        return "{" + ", ".join(f"{node}:{n}" for node, n in self.entries) + "}"


# -- hybrid logical clocks ------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class HLCTimestamp:
    """A hybrid logical timestamp ``(l, c)``, compared as a pair.

    ``l`` is the largest physical time the process has heard of; ``c`` counts events that
    share the same ``l``.
    """

    l: float
    c: int


class HybridLogicalClock:
    """A hybrid logical clock (Kulkarni, Demirbas, Madappa, Avva and Leone 2014).

    Like a Lamport clock, a -> b implies HLC(a) < HLC(b); unlike one, ``l`` never runs ahead
    of the largest physical clock reading in the system, so ``l - pt`` stays within the
    clock skew, and the timestamp can stand in for physical time (snapshot reads at a time).
    ``pt`` is the process's physical clock, passed in (in the simulator: ``self.now``).
    """

    def __init__(self) -> None:
        self.l = float("-inf")   # no physical time heard of yet (clocks may read below 0)
        self.c = 0

    def send(self, pt: float) -> HLCTimestamp:
        """A local or send event at physical time ``pt`` (the paper's "send or local event")."""
        l_old = self.l
        self.l = max(l_old, pt)
        self.c = self.c + 1 if self.l == l_old else 0
        return HLCTimestamp(self.l, self.c)

    def receive(self, m: HLCTimestamp, pt: float) -> HLCTimestamp:
        """Receipt of a message stamped ``m`` at physical time ``pt``."""
        l_old = self.l
        self.l = max(l_old, m.l, pt)
        if self.l == l_old == m.l:
            self.c = max(self.c, m.c) + 1
        elif self.l == l_old:
            self.c += 1
        elif self.l == m.l:
            self.c = m.c + 1
        else:
            self.c = 0
        return HLCTimestamp(self.l, self.c)

    def __repr__(self) -> str:
        return f"HybridLogicalClock(l={self.l:g}, c={self.c})"
