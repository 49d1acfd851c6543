"""A fixed number of partitions, many more than nodes: rebalancing moves whole partitions.

The way out of mod-N's mass migration that Riak, Elasticsearch and Couchbase take (Kleppmann,
*Designing Data-Intensive Applications*, ch. 6): hash each key to one of P partitions, with P
fixed once and for all (say 256 for a cluster that may grow to a few dozen nodes), and keep a
table saying which node holds each partition. A key's partition never changes; only the
table does. A new node takes partitions from the most loaded nodes until it has its fair
share, so only the keys of those partitions move: about 1/(N+1) of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Self

from distlab.partitioning.hashing import Key, stable_hash
from distlab.partitioning.scheme import checked_new, checked_nodes, checked_removal


class FixedPartitions:
    """Key ``k`` is in partition ``stable_hash(k) % partitions``; ``table[p]`` holds that.

    Initially partition ``p`` goes to ``nodes[p % N]``. The table is kept as balanced as
    whole partitions allow: any two nodes hold numbers of partitions that differ by at most 1.

    >>> scheme = FixedPartitions(["a", "b"], partitions=8)
    >>> scheme.table
    ('a', 'b', 'a', 'b', 'a', 'b', 'a', 'b')
    >>> scheme.with_node("c").table
    ('a', 'b', 'a', 'b', 'a', 'b', 'c', 'c')
    """

    def __init__(self, nodes: Iterable[str], partitions: int = 256, seed: int = 0,
                 table: Iterable[str] | None = None) -> None:
        self.nodes = checked_nodes(nodes)
        if not isinstance(partitions, int) or partitions < len(self.nodes):
            raise ValueError(f"partitions must be a whole number at least the number of nodes "
                             f"({len(self.nodes)}), so that every node holds one; "
                             f"got {partitions!r}")
        self.partitions = partitions
        self.seed = seed
        self.table = (tuple(table) if table is not None else
                      tuple(self.nodes[p % len(self.nodes)] for p in range(partitions)))
        if len(self.table) != partitions:
            raise ValueError(f"the table must name a holder for each of the {partitions} "
                             f"partitions; it has {len(self.table)} entries")
        strangers = sorted(set(self.table) - set(self.nodes))
        if strangers:
            raise ValueError(f"the table gives partitions to {', '.join(strangers)}, which "
                             f"are not among the nodes {', '.join(self.nodes)}")

    def partition(self, key: Key) -> int:
        """The partition of ``key``: fixed forever, whatever the nodes."""
        return stable_hash(key, self.seed) % self.partitions

    def owner(self, key: Key) -> str:
        return self.table[self.partition(key)]

    def with_node(self, node: str) -> Self:
        """The new node takes one partition at a time from the node that holds most (the
        last such partition of the first such node) until it holds its fair share."""
        checked_new(self.nodes, node)
        if len(self.nodes) + 1 > self.partitions:
            raise ValueError(f"cannot add {node!r}: {self.partitions} partitions cannot give "
                             f"{len(self.nodes) + 1} nodes one each; choose more partitions")
        table = list(self.table)
        share = self.partitions // (len(self.nodes) + 1)
        for _ in range(share):
            held = Counter(table)
            donor = max(self.nodes, key=lambda n: held[n])
            given = max(p for p, holder in enumerate(table) if holder == donor)
            table[given] = node
        return type(self)((*self.nodes, node), self.partitions, self.seed, table)

    def without_node(self, node: str) -> Self:
        """Each of the node's partitions goes, in turn, to the node that holds fewest."""
        checked_removal(self.nodes, node)
        nodes = tuple(n for n in self.nodes if n != node)
        table = list(self.table)
        for p, holder in enumerate(self.table):
            if holder == node:
                held = Counter(table)
                table[p] = min(nodes, key=lambda n: held[n])
        return type(self)(nodes, self.partitions, self.seed, table)

    def __repr__(self) -> str:
        return (f"FixedPartitions({list(self.nodes)!r}, partitions={self.partitions}, "
                f"seed={self.seed})")
