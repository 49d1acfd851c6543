"""Jump consistent hash against the algorithm of Lamping and Veach (2014), computed apart.

The reference below follows the paper's description with exact rational arithmetic instead
of the code's double-precision floats: from bucket ``b``, the key's generator gives a number
``r`` and the key next jumps at ``floor((b + 1) * 2**31 / (r + 1))`` buckets.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from distlab.partitioning.jump import LCG_MULTIPLIER, jump_hash


def reference(key: int, buckets: int) -> int:
    bucket, next_jump = -1, 0
    while next_jump < buckets:
        bucket = next_jump
        key = (key * LCG_MULTIPLIER + 1) % 2**64
        next_jump = math.floor(Fraction((bucket + 1) * 2**31, (key >> 33) + 1))
    return bucket


def test_the_first_jumps_of_key_one_worked_by_hand():
    state = (1 * LCG_MULTIPLIER + 1) % 2**64
    assert state >> 33 == 333_289_331
    assert (1 * 2**31) // (333_289_331 + 1) == 6          # stays in bucket 0 up to 6 buckets
    assert [jump_hash(1, n) for n in (1, 6, 7)] == [0, 0, 6]


def test_key_zero_never_leaves_bucket_zero():
    # the generator's first number is 1, so the first jump is at 2**31 buckets
    assert {jump_hash(0, n) for n in (1, 2, 1_000, 2**20)} == {0}


@pytest.mark.parametrize("buckets", [1, 2, 3, 7, 10, 64, 1_000])
def test_matches_the_exact_reference_on_many_keys(buckets):
    keys = [*range(300), *(k * 0x9E3779B97F4A7C15 % 2**64 for k in range(300)), 2**64 - 1]
    assert [jump_hash(k, buckets) for k in keys] == [reference(k, buckets) for k in keys]


def test_a_new_bucket_takes_keys_only_from_the_others_and_a_fair_share():
    keys = [k * 0x9E3779B97F4A7C15 % 2**64 for k in range(20_000)]
    for n in (1, 5, 9):
        moved = [k for k in keys if jump_hash(k, n) != jump_hash(k, n + 1)]
        assert all(jump_hash(k, n + 1) == n for k in moved)
        assert len(moved) / len(keys) == pytest.approx(1 / (n + 1), abs=0.015)


@pytest.mark.parametrize("key, buckets, message", [
    (-1, 3, "64-bit key"), (2**64, 3, "64-bit key"), ("k", 3, "stable_hash first"),
    (5, 0, "at least one bucket")])
def test_bad_input_is_refused(key, buckets, message):
    with pytest.raises(ValueError, match=message):
        jump_hash(key, buckets)
