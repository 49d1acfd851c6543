"""Tests of distlab.partitioning.chunks: chunks split at their median on their own shard,
the balancer evens the chunk counts and stops, and increasing keys make one hot shard under
a ranged shard key and none under a hashed one."""

from __future__ import annotations

import pytest

from distlab.partitioning import RangePartitioning
from distlab.partitioning.chunks import (balance, chunk_counts, chunk_keys, hashed_key, migrate,
                                         split_chunks)
from distlab.partitioning.runs import sharded_inserts

KEYS = [f"order-{i:06d}" for i in range(1_000)]
SHARDS = ["s0", "s1", "s2"]


def test_a_large_chunk_is_split_at_its_median_and_stays_on_its_shard():
    chunks = split_chunks(RangePartitioning([], ["s0"]), KEYS[:100], max_keys=50)
    assert chunks.boundaries == ("order-000050",) and chunks.owners == ("s0", "s0")
    chunks = split_chunks(RangePartitioning([], ["s0"]), KEYS, max_keys=50)
    assert all(len(members) <= 50 for members in chunk_keys(chunks, KEYS))
    assert set(chunks.owners) == {"s0"}


def test_the_balancer_evens_chunk_counts_and_stops():
    chunks = split_chunks(RangePartitioning([], ["s0"]), KEYS, max_keys=50)
    balanced, moves = balance(chunks, SHARDS)
    counts = chunk_counts(balanced, SHARDS)
    assert max(counts.values()) - min(counts.values()) < 2
    assert len(moves) == len(chunks.owners) - max(counts.values())
    assert balance(balanced, SHARDS)[1] == []           # at rest: nothing more to move
    assert migrate(balanced, 0, "s2").owners[0] == "s2"


def test_increasing_keys_make_a_hot_shard_unless_the_shard_key_is_hashed():
    ranged = sharded_inserts(KEYS, SHARDS)
    hashed = sharded_inserts(KEYS, SHARDS, hashed=True)
    # after the first splits, every batch of a ranged key goes to one shard
    assert all(max(batch.values()) == 100 for batch in ranged.inserts)
    assert all(max(batch.values()) < 60 for batch in hashed.inserts[3:])
    assert ranged.migrations > hashed.migrations
    for run in (ranged, hashed):
        counts = run.chunks[-1]
        assert max(counts.values()) - min(counts.values()) < 2
    assert hashed_key("a") == hashed_key("a") and len(hashed_key("a")) == 16


def test_bad_parameters_are_refused():
    chunks = RangePartitioning([], ["s0"])
    with pytest.raises(ValueError, match="max_keys"):
        split_chunks(chunks, KEYS, 0)
    with pytest.raises(ValueError, match="back and forth forever"):
        balance(chunks, SHARDS, threshold=1)
    with pytest.raises(ValueError, match="not among the shards"):
        balance(chunks, ["s1"])
