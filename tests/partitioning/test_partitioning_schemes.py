"""Tests of the partitioning schemes: ownership, movement on join and leave, balance, errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from distlab.partitioning import (ConsistentHashRing, FixedPartitions, JumpHash, ModN,
                                  RangePartitioning, Rendezvous, moved_keys, stable_hash)
from distlab.partitioning.runs import (join_movement, key_spread, leave_movement, load,
                                       moved_fraction, ring_cv_theory, ring_spread, sampling_cv)
from distlab.sim.helpers import node_ids

SRC = Path(__file__).resolve().parents[2] / "src"
KEYS = [f"user:{i}" for i in range(20_000)]
HASH_SCHEMES = {
    "modn": ModN,
    "fixed": FixedPartitions,
    "ring": lambda nodes: ConsistentHashRing(nodes, vnodes=64),
    "rendezvous": Rendezvous,
    "jump": JumpHash,
}
#: the schemes that move only the keys that must move when a node joins or leaves
MINIMAL = ["ring", "rendezvous", "jump"]


@pytest.mark.parametrize("name", HASH_SCHEMES)
def test_every_key_has_one_of_the_nodes_as_owner(name):
    scheme = HASH_SCHEMES[name](node_ids(5))
    assert {scheme.owner(k) for k in KEYS[:2_000]} == set(scheme.nodes)


@pytest.mark.parametrize("name", MINIMAL)
def test_a_join_moves_keys_only_to_the_new_node_and_about_one_in_n_plus_one(name):
    before = HASH_SCHEMES[name](node_ids(10))
    after = before.with_node("new")
    moved = moved_keys(before, after, KEYS)
    assert moved and all(after.owner(k) == "new" for k in moved)
    assert {k for k in KEYS if after.owner(k) == "new"} == set(moved)
    assert abs(len(moved) / len(KEYS) - 1 / 11) < 0.02


@pytest.mark.parametrize("name", MINIMAL)
def test_a_leave_of_the_last_node_moves_only_its_keys(name):
    before = HASH_SCHEMES[name](node_ids(10))
    after = before.without_node("n9")
    assert set(moved_keys(before, after, KEYS)) == {k for k in KEYS if before.owner(k) == "n9"}


@pytest.mark.parametrize("name", ["ring", "rendezvous"])
def test_a_leave_of_any_node_moves_only_its_keys(name):
    before = HASH_SCHEMES[name](node_ids(10))
    after = before.without_node("n3")
    assert set(moved_keys(before, after, KEYS)) == {k for k in KEYS if before.owner(k) == "n3"}


def test_jump_hash_removing_a_middle_node_also_moves_the_last_nodes_keys():
    before = JumpHash(node_ids(10))
    after = before.without_node("n3")
    assert after.nodes == ("n0", "n1", "n2", "n9", "n4", "n5", "n6", "n7", "n8")
    moved = set(moved_keys(before, after, KEYS))
    mine = {k for k in KEYS if before.owner(k) == "n3"}
    assert mine <= moved and len(moved) > 1.5 * len(mine)
    assert all(before.owner(k) in ("n3", "n9") for k in moved)


def test_mod_n_moves_about_n_over_n_plus_one_of_the_keys():
    moved = join_movement(ModN, [4, 10], KEYS)
    assert moved[4] == pytest.approx(4 / 5, abs=0.02)
    assert moved[10] == pytest.approx(10 / 11, abs=0.02)


def test_fixed_partitions_move_whole_partitions_about_one_in_n_plus_one():
    before = FixedPartitions(node_ids(10), partitions=256)
    after = before.with_node("new")
    changed = [p for p in range(256) if before.table[p] != after.table[p]]
    assert len(changed) == 256 // 11 and all(after.table[p] == "new" for p in changed)
    assert moved_fraction(before, after, KEYS) == pytest.approx(1 / 11, abs=0.02)
    held = [after.table.count(n) for n in after.nodes]
    assert max(held) - min(held) <= 1
    smaller = after.without_node("n2")
    assert "n2" not in smaller.table
    assert set(moved_keys(after, smaller, KEYS)) == {k for k in KEYS if after.owner(k) == "n2"}


def test_leave_movement_measures_against_one_over_n():
    moved = leave_movement(Rendezvous, [5], KEYS)
    assert moved[5] == pytest.approx(1 / 5, abs=0.02)


@pytest.mark.parametrize("name", ["modn", "fixed", "rendezvous", "jump"])
def test_hash_schemes_spread_keys_evenly(name):
    counts = load(HASH_SCHEMES[name](node_ids(8)), KEYS)
    assert max(counts.values()) < 1.1 * len(KEYS) / 8
    assert min(counts.values()) > 0.9 * len(KEYS) / 8


def test_ring_shares_sum_to_one_and_match_the_keys_each_node_gets():
    ring = ConsistentHashRing(node_ids(4), vnodes=3, seed=7)
    shares = ring.shares()
    assert sum(shares.values()) == pytest.approx(1.0)
    counts = load(ring, KEYS)
    for node in ring.nodes:
        assert counts[node] / len(KEYS) == pytest.approx(shares[node], abs=0.015)


def test_ring_key_past_the_last_point_wraps_to_the_first():
    ring = ConsistentHashRing(["a", "b"], vnodes=2)
    last = max(KEYS[:5_000], key=lambda k: ring.position(k))
    assert stable_hash(last) > ring.positions[-1]
    assert ring.owner(last) == ring.owners[0]


def test_more_virtual_nodes_even_out_the_shares_as_the_beta_law_predicts():
    few, many = ring_spread(10, 1, range(200)), ring_spread(10, 64, range(200))
    assert many.cv < few.cv / 4
    for spread in (few, many):
        assert spread.cv == pytest.approx(ring_cv_theory(10, spread.vnodes), rel=0.15)
    assert few.max_over_mean == pytest.approx(sum(1 / k for k in range(1, 11)), rel=0.1)


def test_range_partitioning_keeps_scans_on_few_nodes_and_splits():
    keys = sorted(KEYS)
    scheme = RangePartitioning.from_keys(keys, node_ids(8))
    counts = load(scheme, keys)
    assert max(counts.values()) - min(counts.values()) <= 1
    assert scheme.scan(keys[100], keys[199]) == [scheme.owner(keys[100])]
    assert len(scheme.scan(keys[0], keys[-1])) == 8
    split = scheme.with_node("n8", at=keys[1_000])
    moved = moved_keys(scheme, split, keys)
    assert moved == keys[1_000:2_500] and all(split.owner(k) == "n8" for k in moved)
    merged = split.without_node("n8")
    assert all(merged.owner(k) == scheme.owner(k) for k in keys)


def test_stable_hash_is_the_same_in_another_process_whatever_pythonhashseed():
    code = ("from distlab.partitioning import ConsistentHashRing, stable_hash;"
            "r = ConsistentHashRing(['a', 'b', 'c'], vnodes=4);"
            "print(stable_hash('user:42'), [r.owner(f'k{i}') for i in range(20)])")
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(SRC)}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, check=True)
        outputs.add(done.stdout)
    ring = ConsistentHashRing(["a", "b", "c"], vnodes=4)
    here = f"{stable_hash('user:42')} {[ring.owner(f'k{i}') for i in range(20)]}\n"
    assert outputs == {here}


def test_the_seed_changes_the_placement_and_the_same_seed_repeats_it():
    a, b = ConsistentHashRing(["x", "y"], 8, seed=1), ConsistentHashRing(["x", "y"], 8, seed=2)
    assert a.positions != b.positions
    assert a.positions == ConsistentHashRing(["x", "y"], 8, seed=1).positions


# -- bad input gets a clear error -----------------------------------------------------------------
@pytest.mark.parametrize("name", HASH_SCHEMES)
def test_empty_unknown_and_repeated_nodes_are_refused_with_a_clear_message(name):
    make = HASH_SCHEMES[name]
    with pytest.raises(ValueError, match="at least one node"):
        make([])
    with pytest.raises(ValueError, match="repeated: a"):
        make(["a", "b", "a"])
    scheme = make(["a", "b"])
    with pytest.raises(ValueError, match="not a node of this partitioning"):
        scheme.without_node("z")
    with pytest.raises(ValueError, match="already in the partitioning"):
        scheme.with_node("a")
    with pytest.raises(ValueError, match="last node"):
        make(["a"]).without_node("a")
    with pytest.raises(TypeError, match="pass a str or bytes"):
        scheme.owner(42)


def test_a_single_string_is_not_taken_for_a_list_of_nodes():
    with pytest.raises(TypeError, match=r"write \['abc'\]"):
        ModN("abc")


@pytest.mark.parametrize("vnodes", [0, -3, 1.5, True])
def test_ring_refuses_a_bad_number_of_virtual_nodes(vnodes):
    with pytest.raises(ValueError, match="points per node"):
        ConsistentHashRing(["a"], vnodes=vnodes)


def test_range_partitioning_errors_say_what_to_do():
    with pytest.raises(ValueError, match="strictly increasing"):
        RangePartitioning(["p", "g"], ["a", "b", "c"])
    with pytest.raises(ValueError, match="need as many owners"):
        RangePartitioning(["g"], ["a"])
    with pytest.raises(ValueError, match=r"with_node\('d', at=key\)"):
        RangePartitioning(["g"], ["a", "b"]).with_node("d")
    with pytest.raises(TypeError, match="orders keys as text"):
        RangePartitioning(["g"], ["a", "b"]).owner(3)
    with pytest.raises(ValueError, match="at least one key per node"):
        RangePartitioning.from_keys(["x"], ["a", "b"])


def test_fixed_partitions_refuse_a_table_that_does_not_fit_the_nodes():
    with pytest.raises(ValueError, match="a holder for each of the 4 partitions"):
        FixedPartitions(["a", "b"], partitions=4, table=["a", "b"])
    with pytest.raises(ValueError, match="gives partitions to z"):
        FixedPartitions(["a", "b"], partitions=2, table=["a", "z"])


def test_fixed_partitions_refuse_fewer_partitions_than_nodes():
    with pytest.raises(ValueError, match="at least the number of nodes"):
        FixedPartitions(["a", "b", "c"], partitions=2)
    with pytest.raises(ValueError, match="choose more partitions"):
        FixedPartitions(["a", "b"], partitions=2).with_node("c")


def test_stable_hash_refuses_a_bad_seed():
    with pytest.raises(ValueError, match="seed must be"):
        stable_hash("k", seed=-1)


def test_rendezvous_and_jump_spread_keys_as_evenly_as_independent_random_choices():
    keys = KEYS[:4_000]
    floor = sampling_cv(8, len(keys))
    for make in (Rendezvous, JumpHash, ModN):
        spread = key_spread(make, 8, keys, seeds=range(10))
        assert spread.cv == pytest.approx(floor, rel=0.3)
    one_point = key_spread(lambda nodes, seed: ConsistentHashRing(nodes, 1, seed), 8, keys,
                           seeds=range(10))
    assert one_point.cv > 10 * floor
