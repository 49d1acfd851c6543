"""The interface every partitioning scheme of `distlab.partitioning` offers, and its checks.

A scheme is an immutable value: ``owner(key)`` says which node holds a key, and
``with_node(node)`` / ``without_node(node)`` return a *new* scheme with one node more or
less. Keeping the old value makes the question this chapter asks easy to answer: which keys
must move? Those whose owner differs between the two (`moved_keys`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, Self

from distlab.partitioning.hashing import Key


class Partitioner(Protocol):
    """What every scheme provides (`ModN`, `FixedPartitions`, `ConsistentHashRing`, ...)."""

    @property
    def nodes(self) -> tuple[str, ...]:
        """The nodes that hold keys, in the scheme's own order."""
        ...

    def owner(self, key: Key) -> str:
        """The node that holds ``key``; the same answer in every process."""
        ...

    def with_node(self, node: str) -> Self:
        """A new scheme with ``node`` added (ValueError if it is there already)."""
        ...

    def without_node(self, node: str) -> Self:
        """A new scheme without ``node`` (ValueError if it is unknown or the last one)."""
        ...


def assignment(scheme: Partitioner, keys: Iterable[Key]) -> dict[Key, str]:
    """Each key's owner under ``scheme``."""
    return {key: scheme.owner(key) for key in keys}


def moved_keys(before: Partitioner, after: Partitioner, keys: Iterable[Key]) -> list[Key]:
    """The keys whose owner differs between two schemes: the data a change must copy."""
    return [key for key in keys if before.owner(key) != after.owner(key)]


def checked_nodes(nodes: Iterable[str]) -> tuple[str, ...]:
    """``nodes`` as a tuple, refused if empty, not strings, or repeated."""
    if isinstance(nodes, str):
        raise TypeError(f"nodes must be a list of node names, not one string {nodes!r}: "
                        f"write [{nodes!r}]")
    found = tuple(nodes)
    if not found:
        raise ValueError("a partitioning needs at least one node to hold the keys")
    for node in found:
        if not isinstance(node, str) or not node:
            raise TypeError(f"node names must be non-empty strings, got {node!r}")
    repeated = sorted({node for node in found if found.count(node) > 1})
    if repeated:
        raise ValueError(f"node names must be distinct; repeated: {', '.join(repeated)}")
    return found


def checked_new(nodes: tuple[str, ...], node: str) -> str:
    """``node``, refused if it is not a name or already one of ``nodes``."""
    if not isinstance(node, str) or not node:
        raise TypeError(f"a node name must be a non-empty string, got {node!r}")
    if node in nodes:
        raise ValueError(f"node {node!r} is already in the partitioning")
    return node


def checked_removal(nodes: tuple[str, ...], node: str) -> str:
    """``node``, refused if unknown or if it is the only node left."""
    if node not in nodes:
        raise ValueError(f"cannot remove {node!r}: not a node of this partitioning "
                         f"(its nodes: {', '.join(nodes)})")
    if len(nodes) == 1:
        raise ValueError(f"cannot remove {node!r}: it is the last node, and the keys would "
                         f"have nowhere to go")
    return node
