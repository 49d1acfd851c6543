"""Tests of distlab.compute.model and distlab.compute.jobs: the sequential reference computes
what each job means, whatever R, with and without its combiner."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

import pytest

from distlab.compute import jobs
from distlab.compute.model import (Job, RangePartition, decode, encode, hash_partition, map_task,
                                   reduce_task, run_sequential)

DOCS = jobs.documents(5, 80, seed=3)


def words(text):
    return re.findall(r"[a-z]+", text.lower())


@pytest.mark.parametrize("n_reduce", [1, 3, 7])
def test_word_count_counts_every_word_once_whatever_r(n_reduce):
    result = run_sequential(jobs.word_count, DOCS, n_reduce)
    expected = Counter(w for text in DOCS.values() for w in words(text))
    assert result.as_dict() == {w: str(c) for w, c in expected.items()}
    assert len(result.pairs()) == len(expected)  # each key in one partition only


def test_the_combiner_shrinks_the_shuffle_but_not_the_answer():
    with_combiner = run_sequential(jobs.word_count, DOCS, 3)
    without = run_sequential(replace(jobs.word_count, combiner=None), DOCS, 3)
    assert with_combiner.as_dict() == without.as_dict()
    assert without.shuffled_pairs == without.map_pairs == 5 * 80
    assert with_combiner.shuffled_pairs < without.shuffled_pairs / 2


def test_an_average_as_combiner_gives_a_wrong_answer():
    def average(key, values):
        return str(sum(float(v) for v in values) / len(values))

    def numbers(name, text):
        for line in text.splitlines():
            yield "x", line
    job = Job("mean", numbers, average, combiner=average)
    inputs = {"a": "1\n2\n3", "b": "10"}
    assert run_sequential(replace(job, combiner=None), inputs, 1).as_dict() == {"x": "4.0"}
    assert run_sequential(job, inputs, 1).as_dict() == {"x": "6.0"}  # mean of 2 and 10


def test_inverted_index_lists_the_documents_of_each_word():
    result = run_sequential(jobs.inverted_index, DOCS, 4).as_dict()
    for word, names in result.items():
        assert names.split(",") == sorted(n for n, t in DOCS.items() if word in words(t))


def test_join_meets_customers_and_their_orders():
    tables = {"customers-0": "c1,ada\nc2,bob", "orders-0": "o1,c1,5\no2,c3,7\no3,c1,2"}
    assert run_sequential(jobs.join, tables, 2).as_dict() == {
        "c1": "ada: o1 5; o3 2", "c2": "bob: ", "c3": "?: o2 7"}


def test_sort_with_a_range_partitioner_is_sorted_across_partitions():
    recs = jobs.records(4, 30, seed=1)
    keys = [line for text in recs.values() for line in text.splitlines()]
    boundaries = jobs.sort_boundaries(keys[:20], 4)
    result = run_sequential(jobs.sort_job(boundaries), recs, 4)
    assert [k for k, _ in result.pairs()] == sorted(set(keys))
    assert all(result.partitions)  # each range got some keys
    assert sum(int(v) for _, v in result.pairs()) == len(keys)


def test_the_hash_partition_is_stable_and_in_range():
    assert hash_partition("the", 5) == hash_partition("the", 5)
    assert {hash_partition(w, 5) for w in jobs.VOCABULARY} == set(range(5))


def test_map_task_splits_its_pairs_by_partition():
    parts = map_task(jobs.word_count, "d", "b a b c", 2)
    assert sorted(p for part in parts for p in part) == [("a", "1"), ("b", "2"), ("c", "1")]
    for r, part in enumerate(parts):
        assert all(hash_partition(k, 2) == r for k, _ in part)
    assert reduce_task(jobs.word_count, [("b", "2"), ("a", "1"), ("b", "3")]) == [
        ("a", "1"), ("b", "5")]


def test_encode_and_decode_are_inverse_and_refuse_what_they_cannot_hold():
    pairs = [("a", "1"), ("b c", "x y")]
    assert decode(encode(pairs)) == pairs
    with pytest.raises(TypeError, match="keys and values are text"):
        encode([("a", 1)])
    with pytest.raises(ValueError, match="no tab or newline"):
        encode([("a\tb", "1")])
    with pytest.raises(ValueError, match="not a line of pairs"):
        decode("no tab here")


def test_bad_partitions_and_inputs_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="run the job with n_reduce=3"):
        RangePartition(("g", "p"))("a", 2)
    job = Job("bad", jobs.count_words, jobs.add_counts, partition=lambda key, n: n)
    with pytest.raises(ValueError, match="not one of 0..1"):
        map_task(job, "d", "a", 2)
    with pytest.raises(ValueError, match="at least one input"):
        run_sequential(jobs.word_count, {}, 2)


def test_made_up_inputs_are_the_same_for_a_seed():
    assert jobs.documents(3, 10, seed=1) == jobs.documents(3, 10, seed=1)
    assert jobs.documents(3, 10, seed=1) != jobs.documents(3, 10, seed=2)
    assert list(jobs.documents(12, 5)) == [f"doc-{i:02d}" for i in range(12)]
