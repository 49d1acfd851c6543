"""The experiments the book runs on partitioning schemes: load, movement, spread, fan-out.

They take any `distlab.partitioning.scheme.Partitioner` (or a function that builds one from a
list of node names), so one experiment compares every scheme on the same keys.
"""

from __future__ import annotations

import bisect
import math
import random
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from distlab.partitioning.chunks import balance, chunk_counts, hashed_key, split_chunks
from distlab.partitioning.hashing import Key
from distlab.partitioning.ranges import RangePartitioning
from distlab.partitioning.ring import ConsistentHashRing
from distlab.partitioning.scheme import Partitioner, moved_keys
from distlab.sim.helpers import node_ids

Maker = Callable[[list[str]], Partitioner]


def load(scheme: Partitioner, items: Iterable[Key]) -> dict[str, int]:
    """How many of ``items`` (keys, or requests naming keys) each node gets; every node is
    listed, in the scheme's order, even with 0."""
    counts = Counter(scheme.owner(item) for item in items)
    return {node: counts[node] for node in scheme.nodes}


def imbalance(counts: dict[str, int]) -> float:
    """The busiest node's load over the mean load: 1.0 is perfectly even."""
    return max(counts.values()) / statistics.mean(counts.values())


def moved_fraction(before: Partitioner, after: Partitioner, keys: Sequence[Key]) -> float:
    """The fraction of ``keys`` whose owner changed."""
    return len(moved_keys(before, after, keys)) / len(keys)


def join_movement(make: Maker, sizes: Iterable[int], keys: Sequence[Key]) -> dict[int, float]:
    """For each N in ``sizes``: the fraction of ``keys`` that move when node ``nN`` joins the
    nodes ``n0 .. n(N-1)`` (the optimum is 1/(N+1))."""
    moved = {}
    for n in sizes:
        before = make(node_ids(n))
        moved[n] = moved_fraction(before, before.with_node(f"n{n}"), keys)
    return moved


def leave_movement(make: Maker, sizes: Iterable[int], keys: Sequence[Key],
                   leaving: int = 0) -> dict[int, float]:
    """For each N in ``sizes``: the fraction of ``keys`` that move when node number
    ``leaving`` (0 is the first, -1 the last) leaves N nodes (the optimum is 1/N)."""
    moved = {}
    for n in sizes:
        before = make(node_ids(n))
        moved[n] = moved_fraction(before, before.without_node(before.nodes[leaving]), keys)
    return moved


@dataclass(frozen=True)
class Spread:
    """How unevenly a ring shares the hash space among ``n`` nodes, over many seeds.

    ``cv`` is the coefficient of variation of a node's share (its standard deviation over its
    mean, 1/n), pooled over every node of every seed; ``max_over_mean`` the mean, over the
    seeds, of the largest share times n.
    """

    n: int
    vnodes: int
    seeds: int
    cv: float
    max_over_mean: float


def ring_spread(n: int, vnodes: int, seeds: Iterable[int]) -> Spread:
    """Build a ring of ``n`` nodes with ``vnodes`` points each for every seed, and measure
    the spread of the exact shares of the hash space (no sampling of keys)."""
    squares, maxima = [], []
    for seed in seeds:
        shares = ConsistentHashRing(node_ids(n), vnodes, seed).shares().values()
        squares += [(share * n - 1) ** 2 for share in shares]
        maxima.append(max(shares) * n)
    return Spread(n, vnodes, len(maxima), math.sqrt(statistics.mean(squares)),
                  statistics.mean(maxima))


def ring_cv_theory(n: int, vnodes: int) -> float:
    """The coefficient of variation of a node's share if its points were uniformly random.

    Then the n·V points cut the circle into n·V arcs whose lengths are jointly Dirichlet(1,
    ..., 1); a node's share is the sum of V of them, a Beta(V, nV - V) variable, with mean
    1/n and variance V(nV - V) / ((nV)^2 (nV + 1)). Its standard deviation over its mean is
    sqrt((n - 1) / (nV + 1)), about 1/sqrt(V) when n is large.
    """
    return math.sqrt((n - 1) / (n * vnodes + 1))


@dataclass(frozen=True)
class KeySpread:
    """How unevenly a scheme spreads ``keys`` keys over ``n`` nodes, over many seeds: the
    coefficient of variation of the keys per node (pooled over every node of every seed) and
    the mean over the seeds of the busiest node's keys over the mean."""

    n: int
    keys: int
    seeds: int
    cv: float
    max_over_mean: float


def key_spread(make: Callable[[list[str], int], Partitioner], n: int, keys: Sequence[Key],
               seeds: Iterable[int]) -> KeySpread:
    """Place ``keys`` with ``make(nodes, seed)`` for every seed and measure the spread of the
    number of keys per node (so the sampling noise of the keys is included)."""
    mean = len(keys) / n
    squares, maxima = [], []
    for seed in seeds:
        counts = load(make(node_ids(n), seed), keys).values()
        squares += [(count / mean - 1) ** 2 for count in counts]
        maxima.append(max(counts) / mean)
    return KeySpread(n, len(keys), len(maxima), math.sqrt(statistics.mean(squares)),
                     statistics.mean(maxima))


def sampling_cv(n: int, keys: int) -> float:
    """The spread of the keys per node of an ideal scheme, where each key picks one of the n
    nodes uniformly and independently: a node's count is Binomial(keys, 1/n), whose standard
    deviation over its mean is sqrt((n - 1) / keys). No hash scheme can do better on average."""
    return math.sqrt((n - 1) / keys)


def harmonic(n: int) -> float:
    """H_n = 1 + 1/2 + ... + 1/n: the expected largest of n random arcs, times n."""
    return sum(1 / k for k in range(1, n + 1))


def salted(requests: Iterable[str], hot: Iterable[str], ways: int,
           seed: int = 0) -> list[str]:
    """Requests for a ``hot`` key rewritten to ``key#0 .. key#(ways-1)`` at random: the
    application-level fix for a single hot key (its readers must then ask all ``ways``)."""
    if not isinstance(ways, int) or ways < 1:
        raise ValueError(f"ways is the number of sub-keys per hot key, >= 1; got {ways!r}")
    hot = set(hot)
    rng = random.Random(seed)
    return [f"{r}#{rng.randrange(ways)}" if r in hot else r for r in requests]


def split_busiest(scheme: RangePartitioning, requests: Sequence[str]) -> RangePartitioning:
    """One step of load-based splitting, as range-partitioned stores do with a hot range:
    the range with the most requests is split at the median of its requests, and its upper
    part goes to the node that got the fewest requests."""
    in_range: dict[int, list[str]] = {}
    for request in requests:
        in_range.setdefault(bisect.bisect_right(scheme.boundaries, request), []).append(request)
    busiest = max(in_range, key=lambda i: len(in_range[i]))
    ordered = sorted(in_range[busiest])
    low = scheme.boundaries[busiest - 1] if busiest > 0 else None
    above = [r for r in ordered[len(ordered) // 2:] if r != low]
    if not above:
        raise ValueError(f"the busiest range holds a single hot key, {ordered[0]!r}: no split "
                         f"can cool it (salt the key instead, see `salted`)")
    counts = load(scheme, requests)
    coolest = min(counts, key=lambda node: counts[node])
    return scheme.split(above[0], coolest)


@dataclass
class ShardingRun:
    """What `sharded_inserts` saw, per batch: the inserts each shard took, and the chunks
    each shard held after splitting and balancing; and the chunk migrations in all."""

    shards: tuple[str, ...]
    inserts: list[dict[str, int]]
    chunks: list[dict[str, int]]
    migrations: int
    final: RangePartitioning


def sharded_inserts(keys: Sequence[str], shards: Sequence[str], *, hashed: bool = False,
                    max_keys: int = 50, batch: int = 100, threshold: int = 2) -> ShardingRun:
    """Insert ``keys`` in order, ``batch`` at a time, into a collection sharded on them
    (``hashed``: on their hash, `hashed_key`), as MongoDB does: one chunk on the first shard
    at the start; after each batch every chunk over ``max_keys`` keys is split and the
    balancer runs (`distlab.partitioning.chunks`)."""
    if not shards:
        raise ValueError("give at least one shard")
    chunks = RangePartitioning([], [shards[0]])
    stored: list[str] = []
    inserts, held, migrations = [], [], 0
    for start in range(0, len(keys), batch):
        values = [hashed_key(key) if hashed else key for key in keys[start:start + batch]]
        took = Counter(chunks.owner(value) for value in values)
        inserts.append({shard: took[shard] for shard in shards})
        stored += values
        chunks, moved = balance(split_chunks(chunks, stored, max_keys), shards, threshold)
        migrations += len(moved)
        held.append(chunk_counts(chunks, shards))
    return ShardingRun(tuple(shards), inserts, held, migrations, chunks)
