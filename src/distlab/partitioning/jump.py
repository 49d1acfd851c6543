"""Jump consistent hash: a key and a number of buckets give a bucket, with no table at all.

Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm" (2014). Picture the
key's bucket as the number of buckets grows from 1: at each new bucket ``j`` the key jumps to
``j`` with probability ``1/(j+1)``, the fraction of keys that bucket ``j`` must take to be
fair. Following one key's pseudo-random sequence, the algorithm does not try every ``j``: it
computes where the key jumps next directly, so a lookup takes O(log n) steps. Keys move only
to a new last bucket: exactly the keys that must move, and no others.

Buckets are numbered 0 .. n-1, so nodes can be added or removed only at the end; removing a
node from the middle (`JumpHash.without_node`) renumbers the last node into its place, and
costs more movement.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self

from distlab.partitioning.hashing import HASH_SPACE, Key, stable_hash
from distlab.partitioning.scheme import checked_new, checked_nodes, checked_removal

#: The multiplier of the 64-bit linear congruential generator the paper uses.
LCG_MULTIPLIER = 2862933555777941757


def jump_hash(key: int, buckets: int) -> int:
    """The bucket in ``range(buckets)`` of a 64-bit ``key``: the paper's algorithm.

    ``b`` is the bucket the key is in, ``j`` the next bucket count at which it jumps. Each
    step draws the next number of the key's generator and derives from it, with the same
    double-precision arithmetic as the paper's C++ code, the next jump.

    Key 1 stays in bucket 0 up to 6 buckets, jumps to bucket 6 at 7 buckets and stays there
    up to 17 (the first steps: ``floor(1 * 2**31 / 333289332) = 6``, then
    ``floor(7 * 2**31 / 875494161) = 17``):

    >>> [jump_hash(1, n) for n in (1, 6, 7, 17)]
    [0, 0, 6, 6]
    """
    if not isinstance(key, int) or not 0 <= key < HASH_SPACE:
        raise ValueError(f"jump_hash needs a 64-bit key, a whole number in range(2**64); "
                         f"got {key!r} (hash a text key with stable_hash first)")
    if not isinstance(buckets, int) or buckets < 1:
        raise ValueError(f"jump_hash needs at least one bucket, got buckets={buckets!r}")
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * LCG_MULTIPLIER + 1) % HASH_SPACE
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


class JumpHash:
    """Key ``k`` lives on ``nodes[jump_hash(stable_hash(k), len(nodes))]``.

    ``with_node`` appends a bucket: only keys that jump to it move. ``without_node`` of the
    last node removes the last bucket: only its keys move. Without another node, the last
    node takes its bucket number, so that node's keys move as well (about twice the optimum).

    >>> scheme = JumpHash(["a", "b", "c"])
    >>> scheme.owner("user:42") in scheme.nodes
    True
    """

    def __init__(self, nodes: Iterable[str], seed: int = 0) -> None:
        self.nodes = checked_nodes(nodes)
        self.seed = seed

    def owner(self, key: Key) -> str:
        return self.nodes[jump_hash(stable_hash(key, self.seed), len(self.nodes))]

    def with_node(self, node: str) -> Self:
        return type(self)((*self.nodes, checked_new(self.nodes, node)), self.seed)

    def without_node(self, node: str) -> Self:
        checked_removal(self.nodes, node)
        nodes = list(self.nodes)
        last = nodes.pop()
        if node != last:
            nodes[nodes.index(node)] = last     # the last node takes the free bucket number
        return type(self)(nodes, self.seed)

    def __repr__(self) -> str:
        return f"JumpHash({list(self.nodes)!r}, seed={self.seed})"
