"""Consistent hashing: nodes and keys on one ring, each key held by the next node clockwise.

Karger, Lehman, Leighton, Panigrahy, Levine and Lewin, "Consistent Hashing and Random Trees"
(STOC 1997). Hash every node to a point of a circle (here the 64-bit hash space, wrapped
round) and every key too; a key belongs to the first node point at or after it, going
clockwise. A node that joins takes over only the arc between its point and the point before
it, from one other node: no other key moves. A node that leaves hands its arc to its
successor. On average 1/N of the keys move, the least any scheme can move.

One point per node gives uneven arcs (the largest of N random arcs is about ln N times the
mean), so each node gets ``vnodes`` points, its *virtual nodes*: its share is then the sum of
many arcs, and evens out. Dynamo (DeCandia et al. 2007) and Cassandra use this ring.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Self

from distlab.partitioning.hashing import HASH_SPACE, Key, stable_hash, unit
from distlab.partitioning.scheme import checked_new, checked_nodes, checked_removal


class ConsistentHashRing:
    """A hash ring where each node has ``vnodes`` points: ``stable_hash(f"{node}#{i}")``.

    Invariant: ``positions`` is sorted and ``owners[i]`` is the node of point ``positions[i]``;
    a key hashed to ``h`` belongs to the first point with position ``>= h``, or to the first
    point of all if ``h`` is past the last one (the ring wraps round).

    >>> ring = ConsistentHashRing(["a", "b", "c"], vnodes=8)
    >>> ring.owner("user:42") in ring.nodes
    True
    >>> bigger = ring.with_node("d")
    >>> all(bigger.owner(k) in (ring.owner(k), "d") for k in map(str, range(1000)))
    True
    """

    def __init__(self, nodes: Iterable[str], vnodes: int = 1, seed: int = 0) -> None:
        self.nodes = checked_nodes(nodes)
        if not isinstance(vnodes, int) or isinstance(vnodes, bool) or vnodes < 1:
            raise ValueError(f"vnodes is the number of points per node on the ring: a whole "
                             f"number >= 1, got {vnodes!r}")
        self.vnodes = vnodes
        self.seed = seed
        points = sorted((stable_hash(f"{node}#{i}", seed), node)
                        for node in self.nodes for i in range(vnodes))
        self.positions = [position for position, _ in points]
        self.owners = [node for _, node in points]

    def owner(self, key: Key) -> str:
        i = bisect.bisect_left(self.positions, stable_hash(key, self.seed))
        return self.owners[i % len(self.owners)]   # past the last point: the first one

    def with_node(self, node: str) -> Self:
        return type(self)((*self.nodes, checked_new(self.nodes, node)), self.vnodes, self.seed)

    def without_node(self, node: str) -> Self:
        checked_removal(self.nodes, node)
        return type(self)([n for n in self.nodes if n != node], self.vnodes, self.seed)

    def position(self, key: Key) -> float:
        """Where ``key`` sits on the ring, as a fraction of a turn in [0, 1)."""
        return unit(stable_hash(key, self.seed))

    def points(self) -> list[tuple[float, str]]:
        """Every virtual node as (fraction of a turn, node), in ring order."""
        return [(unit(p), node) for p, node in zip(self.positions, self.owners)]

    def shares(self) -> dict[str, float]:
        """The fraction of the hash space each node owns: the sum of the arcs that end at
        its points (each arc runs from the previous point, exclusive, to this one)."""
        shares = dict.fromkeys(self.nodes, 0)
        previous = self.positions[-1] - HASH_SPACE     # the last point, one turn back
        for position, node in zip(self.positions, self.owners):
            shares[node] += position - previous
            previous = position
        return {node: arc / HASH_SPACE for node, arc in shares.items()}

    def __repr__(self) -> str:
        return (f"ConsistentHashRing({list(self.nodes)!r}, vnodes={self.vnodes}, "
                f"seed={self.seed})")
