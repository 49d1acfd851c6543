"""Range partitioning: each node holds a contiguous range of keys, in key order.

Bigtable's tablets, HBase's regions and MongoDB's ranged shards split the sorted key space
at *boundaries*; a node holds every key from one boundary (included) to the next (excluded).
Keys that are close in order live together, so a range scan ("every reading of sensor 17 in
March") asks one or two nodes instead of all of them. The price: a workload that writes
neighbouring keys (timestamps, increasing ids) sends every write to the same range, a *hot
spot*; and the boundaries must follow the data, so ranges are split when they grow or heat up.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from typing import Self

from distlab.partitioning.scheme import checked_new, checked_nodes, checked_removal


def _checked_key(key: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"range partitioning orders keys as text: pass a str, got "
                        f"{type(key).__name__} {key!r}")
    return key


class RangePartitioning:
    """Ranges split at ``boundaries``: ``owners[i]`` holds the keys ``k`` with
    ``boundaries[i-1] <= k < boundaries[i]`` (the first range has no lower end, the last no
    upper end). A node may hold several ranges.

    >>> scheme = RangePartitioning(["g", "p"], ["a", "b", "c"])
    >>> [scheme.owner(k) for k in ("apple", "grape", "peach", "zebra")]
    ['a', 'b', 'c', 'c']
    >>> scheme.scan("f", "h")
    ['a', 'b']
    """

    def __init__(self, boundaries: Sequence[str], owners: Sequence[str]) -> None:
        self.boundaries = tuple(_checked_key(b) for b in boundaries)
        self.owners = tuple(owners)
        if len(self.owners) != len(self.boundaries) + 1:
            raise ValueError(f"{len(self.boundaries)} boundaries make "
                             f"{len(self.boundaries) + 1} ranges, so they need as many "
                             f"owners; got {len(self.owners)}")
        if any(a >= b for a, b in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"boundaries must be strictly increasing, got "
                             f"{list(self.boundaries)}")
        self.nodes = checked_nodes(dict.fromkeys(self.owners))

    @classmethod
    def from_keys(cls, keys: Iterable[str], nodes: Iterable[str]) -> Self:
        """One range per node, each holding the same number of the given keys (up to one):
        the boundaries are the keys at the quantiles, as a store splits a sample of its data."""
        nodes = checked_nodes(nodes)
        ordered = sorted(set(_checked_key(k) for k in keys))
        if len(ordered) < len(nodes):
            raise ValueError(f"{len(ordered)} distinct keys cannot be split into "
                             f"{len(nodes)} non-empty ranges: give at least one key per node")
        cuts = [ordered[i * len(ordered) // len(nodes)] for i in range(1, len(nodes))]
        return cls(cuts, nodes)

    def owner(self, key: str) -> str:
        return self.owners[bisect.bisect_right(self.boundaries, _checked_key(key))]

    def scan(self, low: str, high: str) -> list[str]:
        """The nodes that a scan of the keys from ``low`` to ``high`` (both included) must
        ask, in key order: those holding a range that meets [low, high]."""
        if _checked_key(low) > _checked_key(high):
            raise ValueError(f"a scan goes from low to high; got low={low!r} > high={high!r}")
        first = bisect.bisect_right(self.boundaries, low)
        last = bisect.bisect_right(self.boundaries, high)
        return list(dict.fromkeys(self.owners[first:last + 1]))

    def ranges(self) -> list[tuple[str | None, str | None, str]]:
        """Every range as (lowest key included, first key excluded, owner); None: no end."""
        ends = [None, *self.boundaries, None]
        return [(ends[i], ends[i + 1], owner) for i, owner in enumerate(self.owners)]

    def split(self, at: str, node: str) -> Self:
        """Split the range that holds ``at`` there: ``node`` (new or not) takes the part from
        ``at`` upwards. How a store cools a hot range or gives a new node some data."""
        i = bisect.bisect_right(self.boundaries, _checked_key(at))
        if i > 0 and self.boundaries[i - 1] == at:
            raise ValueError(f"{at!r} is already a boundary: move that range instead")
        boundaries = (*self.boundaries[:i], at, *self.boundaries[i:])
        return type(self)(boundaries, (*self.owners[:i + 1], node, *self.owners[i + 1:]))

    def with_node(self, node: str, at: str | None = None) -> Self:
        """``split(at, node)`` for a new node. Unlike a hash scheme, a range scheme cannot
        place a node by itself: it must be told which keys to give it."""
        checked_new(self.nodes, node)
        if at is None:
            raise ValueError(f"range partitioning needs to know where {node!r}'s range starts: "
                             f"call with_node({node!r}, at=key), e.g. at the median key of "
                             f"the busiest range")
        return self.split(at, node)

    def without_node(self, node: str) -> Self:
        """Each range of ``node`` joins the range before it (the first range, the one after)."""
        checked_removal(self.nodes, node)
        owners = list(self.owners)
        for i, owner in enumerate(owners):
            if owner == node:
                before = [o for o in owners[:i] if o != node]
                owners[i] = before[-1] if before else next(o for o in owners if o != node)
        boundaries = [b for i, b in enumerate(self.boundaries) if owners[i] != owners[i + 1]]
        merged = [o for i, o in enumerate(owners) if i == 0 or owners[i - 1] != o]
        return type(self)(boundaries, merged)

    def __repr__(self) -> str:
        return f"RangePartitioning({list(self.boundaries)!r}, {list(self.owners)!r})"
