"""Rendezvous hashing (highest random weight): every key ranks every node; the top one wins.

Thaler and Ravishankar, "Using Name-Based Mappings to Increase Hit Rates" (IEEE/ACM
Transactions on Networking, 1998). For each node compute a weight ``hash(node, key)``; the key
belongs to the node of highest weight. No ring and no table: a client that knows the list of
nodes computes the owner alone. When a node joins, a key moves only if the newcomer's weight
beats the old winner's (probability 1/(N+1)), and then it moves to the newcomer; when a node
leaves, only its own keys move, each to its runner-up. The price is N hashes per lookup,
against one hash and a binary search on a ring.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self

from distlab.partitioning.hashing import Key, key_bytes, stable_hash
from distlab.partitioning.scheme import checked_new, checked_nodes, checked_removal


def weight(node: str, key: Key, seed: int = 0) -> int:
    """The random weight of ``node`` for ``key``: a hash of both (a zero byte between them,
    so that node "ab" with key "c" and node "a" with key "bc" hash differently)."""
    return stable_hash(node.encode("utf-8") + b"\x00" + key_bytes(key), seed)


class Rendezvous:
    """Key ``k`` lives on the node with the highest ``weight(node, k)`` (ties: larger name).

    >>> scheme = Rendezvous(["a", "b", "c"])
    >>> scheme.owner("user:42") == max("abc", key=lambda n: weight(n, "user:42"))
    True
    """

    def __init__(self, nodes: Iterable[str], seed: int = 0) -> None:
        self.nodes = checked_nodes(nodes)
        self.seed = seed

    def owner(self, key: Key) -> str:
        return max(self.nodes, key=lambda node: (weight(node, key, self.seed), node))

    def ranking(self, key: Key) -> list[str]:
        """All nodes, best first: the owner, then who would take over if it left, ..."""
        return sorted(self.nodes, key=lambda node: (weight(node, key, self.seed), node),
                      reverse=True)

    def with_node(self, node: str) -> Self:
        return type(self)((*self.nodes, checked_new(self.nodes, node)), self.seed)

    def without_node(self, node: str) -> Self:
        checked_removal(self.nodes, node)
        return type(self)([n for n in self.nodes if n != node], self.seed)

    def __repr__(self) -> str:
        return f"Rendezvous({list(self.nodes)!r}, seed={self.seed})"
