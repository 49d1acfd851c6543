"""Tests of distlab.kv.merkle: a hash-tree comparison finds exactly the keys that differ, and
costs far less than sending every key while the difference is small."""

from __future__ import annotations

import random

import pytest

from distlab.kv.merkle import HASH_BYTES, MerkleTree, compare, full_comparison_bytes

DATA = {f"user:{i:05d}": f"v{i}" for i in range(5_000)}


def diverged(changed: int, seed: int = 1) -> dict[str, str]:
    other = dict(DATA)
    rng = random.Random(seed)
    for key in rng.sample(sorted(DATA), changed):
        other[key] = "changed"
    return other


@pytest.mark.parametrize("changed", [0, 1, 7, 100, 2_000])
def test_compare_finds_exactly_the_differing_keys(changed):
    other = diverged(changed)
    other["new key"] = "only here"
    del other["user:00000"]
    expected = sorted({k for k in DATA.keys() | other.keys() if DATA.get(k) != other.get(k)})
    result = compare(MerkleTree.of(DATA, 8), MerkleTree.of(other, 8))
    assert list(result.keys) == expected


def test_equal_replicas_exchange_only_their_roots():
    result = compare(MerkleTree.of(DATA), MerkleTree.of(dict(DATA)))
    assert result.keys == () and result.bytes_sent == 2 * HASH_BYTES
    assert result.nodes_compared == 1 and result.leaves_opened == 0


def test_small_differences_cost_far_less_than_a_full_comparison():
    full = full_comparison_bytes(DATA)
    for changed in (1, 10):
        assert compare(MerkleTree.of(DATA), MerkleTree.of(diverged(changed))).bytes_sent \
            < full / 5
    # with every leaf different, the tree costs more than the list it replaces
    assert compare(MerkleTree.of(DATA, 6), MerkleTree.of(diverged(2_000), 6)).bytes_sent \
        > full


def test_bad_trees_are_refused():
    with pytest.raises(ValueError, match="depth is a whole number"):
        MerkleTree.of(DATA, depth=-1)
    with pytest.raises(ValueError, match="same depth"):
        compare(MerkleTree.of(DATA, 4), MerkleTree.of(DATA, 5))
