"""Secondary indexes, skewed workloads and salting."""

from __future__ import annotations

from collections import Counter

import pytest

from distlab.partitioning import ModN
from distlab.partitioning.indexes import DocumentPartitionedIndex, TermPartitionedIndex
from distlab.partitioning.ranges import RangePartitioning
from distlab.partitioning.runs import imbalance, load, salted, split_busiest
from distlab.partitioning.skew import zipf_requests, zipf_weights
from distlab.sim.helpers import node_ids

CARS = {f"car-{i}": [f"colour:{['red', 'blue', 'grey'][i % 3]}", f"make:m{i % 7}"]
        for i in range(300)}


@pytest.mark.parametrize("index_class", [DocumentPartitionedIndex, TermPartitionedIndex])
def test_both_indexes_find_the_same_documents(index_class):
    index = index_class(ModN(node_ids(6)))
    for car, terms in CARS.items():
        index.add(car, terms)
    assert index.query("colour:red").documents == {c for c, t in CARS.items()
                                                   if "colour:red" in t}
    assert index.query("colour:green").documents == frozenset()


def test_by_document_queries_fan_out_to_all_writes_touch_one():
    index = DocumentPartitionedIndex(ModN(node_ids(6)))
    assert all(len(index.add(car, terms)) == 1 for car, terms in CARS.items())
    assert len(index.query("make:m3").contacted) == 6


def test_by_term_queries_ask_one_node_writes_touch_the_terms_owners():
    scheme = ModN(node_ids(6))
    index = TermPartitionedIndex(scheme)
    for car, terms in CARS.items():
        assert index.add(car, terms) == {scheme.owner(car), *map(scheme.owner, terms)}
    assert index.query("make:m3").contacted == {scheme.owner("make:m3")}


def test_zipf_weights_and_requests_follow_the_law():
    weights = zipf_weights(1_000, 1.0)
    assert sum(weights) == pytest.approx(1.0)
    assert weights[0] / weights[9] == pytest.approx(10.0)
    keys = [f"k{i}" for i in range(1_000)]
    counts = Counter(zipf_requests(keys, 50_000, seed=3))
    assert counts["k0"] / 50_000 == pytest.approx(weights[0], abs=0.01)
    assert zipf_requests(keys, 100, seed=3) == zipf_requests(keys, 100, seed=3)
    assert zipf_weights(4, 0.0) == [0.25] * 4


def test_salting_spreads_a_hot_key_over_several_nodes():
    keys = [f"k{i}" for i in range(1_000)]
    requests = zipf_requests(keys, 20_000, exponent=1.2, seed=1)
    scheme = ModN(node_ids(8))
    before = imbalance(load(scheme, requests))
    after = imbalance(load(scheme, salted(requests, ["k0"], ways=8, seed=1)))
    assert after < before
    assert {r.split("#")[0] for r in salted(["k0", "k1"], ["k0"], 4)} == {"k0", "k1"}


def test_bad_workload_parameters_are_refused():
    with pytest.raises(ValueError, match="at least one key"):
        zipf_requests([], 3)
    with pytest.raises(ValueError, match="exponent must be >= 0"):
        zipf_weights(3, -1)
    with pytest.raises(ValueError, match="ways is the number"):
        salted(["a"], ["a"], 0)


def test_splitting_the_busiest_range_cools_a_hot_spot_of_neighbouring_keys():
    keys = [f"user:{i:05d}" for i in range(5_000)]
    scheme = RangePartitioning.from_keys(keys, node_ids(8))
    requests = zipf_requests(keys[::-1], 50_000, seed=2)      # the last keys are the hottest
    before = imbalance(load(scheme, requests))
    split = split_busiest(scheme, requests)
    assert len(split.boundaries) == len(scheme.boundaries) + 1
    assert imbalance(load(split, requests)) < before
    with pytest.raises(ValueError, match="single hot key"):
        split_busiest(RangePartitioning(["c"], ["x", "y"]), ["c"] * 10 + ["a"])
