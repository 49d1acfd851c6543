"""Chunks, splits and a balancer: how a range-sharded store keeps its ranges even.

MongoDB's sharded collections (the MongoDB manual, "Sharding") divide the values of a *shard
key* into contiguous *chunks*, each on one shard. A collection starts as one chunk; a chunk
that grows past a size is *split* in two, on the same shard (no data moves); and a background
*balancer* migrates chunks from the shard with the most to the shard with the fewest, once
the difference passes a threshold. The chunk map lives on the config servers, and the routers
(``mongos``) send each query to the shards its key range touches.

Here a chunk map is a `RangePartitioning` (one range per chunk, owned by its shard), sizes are
counted in keys, and the balancer evens out the number of chunks per shard (as MongoDB did
before version 6.0; it now compares data sizes). A *hashed* shard key ranges over the hashes
of the keys (`hashed_key`) instead of the keys: increasing keys then spread over every chunk,
and a range query must ask every shard.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence

from distlab.partitioning.hashing import stable_hash
from distlab.partitioning.ranges import RangePartitioning


def hashed_key(key: str) -> str:
    """The value a hashed shard key ranges over: the key's stable 64-bit hash, as 16 hex
    digits (so that text order is numeric order)."""
    return f"{stable_hash(key):016x}"


def chunk_keys(chunks: RangePartitioning, keys: Iterable[str]) -> list[list[str]]:
    """The keys of each chunk, in chunk order."""
    members: list[list[str]] = [[] for _ in chunks.owners]
    for key in keys:
        members[bisect.bisect_right(chunks.boundaries, key)].append(key)
    return members


def split_chunks(chunks: RangePartitioning, keys: Iterable[str],
                 max_keys: int) -> RangePartitioning:
    """Split every chunk holding more than ``max_keys`` of ``keys`` at its median key, until
    none does; the new chunks stay on their shard (a split moves no data)."""
    if not isinstance(max_keys, int) or max_keys < 1:
        raise ValueError(f"max_keys is the most keys a chunk may hold before it is split, a "
                         f"whole number >= 1; got {max_keys!r}")
    keys = sorted(set(keys))
    while True:
        for i, members in enumerate(chunk_keys(chunks, keys)):
            if len(members) > max_keys:
                chunks = chunks.split(members[len(members) // 2], chunks.owners[i])
                break
        else:
            return chunks


def chunk_counts(chunks: RangePartitioning, shards: Sequence[str]) -> dict[str, int]:
    """How many chunks each of ``shards`` holds (0 for a shard with none yet)."""
    held = Counter(chunks.owners)
    return {shard: held[shard] for shard in shards}


def migrate(chunks: RangePartitioning, index: int, shard: str) -> RangePartitioning:
    """The chunk map with chunk ``index`` moved to ``shard``."""
    owners = list(chunks.owners)
    owners[index] = shard
    return RangePartitioning(chunks.boundaries, owners)


def balance(chunks: RangePartitioning, shards: Sequence[str], threshold: int = 2
            ) -> tuple[RangePartitioning, list[tuple[int, str, str]]]:
    """Run the balancer to rest: while the most loaded shard holds at least ``threshold``
    chunks more than the least loaded one, move the most loaded shard's last chunk there.
    Returns the new map and the migrations, as (chunk index, from, to)."""
    if not isinstance(threshold, int) or threshold < 2:
        raise ValueError(f"threshold is the difference in chunk counts that starts a "
                         f"migration, a whole number >= 2 (with 1 a chunk would move back "
                         f"and forth forever); got {threshold!r}")
    unknown = set(chunks.owners) - set(shards)
    if unknown:
        raise ValueError(f"chunks are held by {sorted(unknown)}, which are not among the "
                         f"shards {list(shards)}")
    migrations = []
    while True:
        counts = chunk_counts(chunks, shards)
        most = max(shards, key=lambda shard: (counts[shard], shard))
        least = min(shards, key=lambda shard: (counts[shard], shard))
        if counts[most] - counts[least] < threshold:
            return chunks, migrations
        index = max(i for i, owner in enumerate(chunks.owners) if owner == most)
        chunks = migrate(chunks, index, least)
        migrations.append((index, most, least))
