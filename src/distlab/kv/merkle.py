"""Merkle trees: find which keys two replicas disagree on, sending little more than the difference.

Two replicas of a key range that have drifted apart (a missed write, a lost hint) must find
the keys they differ on. Sending every key with a digest of its value costs bytes in
proportion to the whole range, however small the difference. A *hash tree* (Merkle 1987)
does better: split the range into ``2**depth`` buckets by the key's hash; a leaf is the hash
of its bucket's (key, value digest) pairs, an inner node the hash of its two children. The
replicas compare roots; where two nodes differ they compare the children, and only the
leaves that differ are opened. Equal subtrees are skipped whole. Dynamo
(DeCandia et al. 2007, section 4.7) keeps one tree per key range for its anti-entropy, and
Cassandra's repair does the same.

`compare` walks the two trees and counts the bytes both sides send: ``HASH_BYTES`` per hash
per side for every tree node compared, and, for every differing leaf, the (key, digest) pairs
of both buckets. `full_comparison_bytes` is the cost of the naive way: one side sends every
(key, digest) pair.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from distlab.partitioning.hashing import HASH_SPACE, stable_hash

#: The size of a hash or digest, in bytes (BLAKE2b cut to 16 bytes).
HASH_BYTES = 16


def digest(data: str) -> bytes:
    """A 16-byte digest of ``data``."""
    return hashlib.blake2b(data.encode(), digest_size=HASH_BYTES).digest()


def bucket_of(key: str, depth: int) -> int:
    """The leaf of a tree of ``2**depth`` leaves that ``key`` belongs to (by its hash)."""
    return stable_hash(key) * 2**depth // HASH_SPACE


@dataclass(frozen=True)
class MerkleTree:
    """The hash tree of one replica's data. ``levels[0]`` is ``[root]``, ``levels[d]`` the
    ``2**d`` hashes of depth ``d``; ``buckets[i]`` the sorted (key, value digest) pairs of
    leaf ``i``."""

    depth: int
    levels: tuple[tuple[bytes, ...], ...]
    buckets: tuple[tuple[tuple[str, bytes], ...], ...]

    @classmethod
    def of(cls, data: Mapping[str, str], depth: int = 10) -> MerkleTree:
        """Build the tree of ``data`` ({key: value}) with ``2**depth`` leaves."""
        if not isinstance(depth, int) or not 0 <= depth <= 20:
            raise ValueError(f"depth is a whole number from 0 to 20 (2**depth leaves); "
                             f"got {depth!r}")
        buckets: list[list[tuple[str, bytes]]] = [[] for _ in range(2**depth)]
        for key, value in data.items():
            buckets[bucket_of(key, depth)].append((key, digest(value)))
        frozen = tuple(tuple(sorted(bucket)) for bucket in buckets)
        level = tuple(digest(repr(bucket)) for bucket in frozen)
        levels = [level]
        while len(level) > 1:
            level = tuple(hashlib.blake2b(level[i] + level[i + 1],
                                          digest_size=HASH_BYTES).digest()
                          for i in range(0, len(level), 2))
            levels.append(level)
        return cls(depth, tuple(reversed(levels)), frozen)

    @property
    def root(self) -> bytes:
        return self.levels[0][0]


@dataclass(frozen=True)
class Comparison:
    """What comparing two trees found (``keys``: those that differ) and what it cost."""

    keys: tuple[str, ...]
    bytes_sent: int
    nodes_compared: int
    leaves_opened: int


def compare(mine: MerkleTree, theirs: MerkleTree) -> Comparison:
    """Walk both trees from the root, descending only where the hashes differ."""
    if mine.depth != theirs.depth:
        raise ValueError(f"the trees must have the same depth to be compared; got "
                         f"{mine.depth} and {theirs.depth}")
    sent = compared = opened = 0
    differing: set[str] = set()
    frontier = [0]                                     # node indexes at the current level
    for level in range(mine.depth + 1):
        compared += len(frontier)
        sent += 2 * HASH_BYTES * len(frontier)         # each side sends its hash
        unequal = [i for i in frontier if mine.levels[level][i] != theirs.levels[level][i]]
        if level == mine.depth:
            for leaf in unequal:
                opened += 1
                a, b = dict(mine.buckets[leaf]), dict(theirs.buckets[leaf])
                sent += sum(len(k.encode()) + HASH_BYTES for k in (*a, *b))
                differing |= {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
        frontier = [child for i in unequal for child in (2 * i, 2 * i + 1)]
    return Comparison(tuple(sorted(differing)), sent, compared, opened)


def full_comparison_bytes(data: Mapping[str, str]) -> int:
    """The bytes of the naive comparison: every key, with a digest of its value."""
    return sum(len(key.encode()) + HASH_BYTES for key in data)
