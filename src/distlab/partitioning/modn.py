"""Hash partitioning by ``hash(key) mod N``: the simplest scheme, and why it rebalances badly.

With N nodes a key goes to node number ``hash(key) mod N``. The load is even, but adding an
(N+1)-th node changes the remainder of almost every hash: a key stays where it was only if
``hash mod N == hash mod (N+1)``, which happens for a fraction 1/(N+1) of the keys. Growing
from 10 to 11 nodes moves about 10/11 of the data, when moving 1/11 would do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from distlab.partitioning.hashing import Key, stable_hash
from distlab.partitioning.scheme import checked_new, checked_nodes, checked_removal


@dataclass(frozen=True)
class ModN:
    """Key ``k`` lives on ``nodes[stable_hash(k) % len(nodes)]``.

    >>> scheme = ModN(["a", "b", "c"])
    >>> scheme.owner("user:42") in scheme.nodes
    True
    """

    nodes: tuple[str, ...]
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", checked_nodes(self.nodes))

    def owner(self, key: Key) -> str:
        return self.nodes[stable_hash(key, self.seed) % len(self.nodes)]

    def with_node(self, node: str) -> Self:
        return type(self)((*self.nodes, checked_new(self.nodes, node)), self.seed)

    def without_node(self, node: str) -> Self:
        checked_removal(self.nodes, node)
        return type(self)(tuple(n for n in self.nodes if n != node), self.seed)
