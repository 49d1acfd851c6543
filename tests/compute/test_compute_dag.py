"""Tests of distlab.compute.dag (datasets with lineage) and distlab.compute.streaming
(event-time windows): the answers equal the sequential ones, stages are cut at shuffles, and
a lost machine costs exactly the partitions it held."""

from __future__ import annotations

import operator

import pytest

from distlab.compute.dag import Context, lineage_graph, stages
from distlab.compute.jobs import WORD, documents, word_count
from distlab.compute.model import run_sequential
from distlab.compute.streaming import (out_of_order_stream, processing_time_counts, true_counts,
                                       tumbling_counts)

DOCS = documents(6, 80, seed=2)


def word_counts(ctx, cache_pairs=False, cache_counts=False):
    texts = ctx.source("documents", [[text] for _, text in sorted(DOCS.items())])
    pairs = texts.flat_map(lambda t: WORD.findall(t.lower()), "words").map(
        lambda w: (w, 1), "pairs")
    if cache_pairs:
        pairs.cache()
    counts = pairs.reduce_by_key(operator.add, 3, "counts")
    return counts.cache() if cache_counts else counts


def test_word_count_on_datasets_equals_the_sequential_reference():
    counts = word_counts(Context())
    expected = run_sequential(word_count, DOCS, 3).as_dict()
    assert {w: str(c) for w, c in counts.collect()} == expected


def test_stages_are_cut_at_the_shuffle_and_narrow_steps_are_pipelined():
    frequent = word_counts(Context()).filter(lambda kv: kv[1] > 5, "frequent")
    assert [s.names for s in stages(frequent)] == [["documents", "words", "pairs"],
                                                  ["counts", "frequent"]]
    assert stages(frequent)[1].after == (0,)


def test_lineage_graph_has_one_edge_per_partition_pair_across_a_shuffle():
    counts = word_counts(Context())
    graph = lineage_graph(counts)
    wide = [e for e in graph.edges(data=True) if e[2]["wide"]]
    narrow = [e for e in graph.edges(data=True) if not e[2]["wide"]]
    assert len(wide) == 6 * 3 and len(narrow) == 6 * 2
    assert graph.nodes["counts", 1]["stage"] == 1 and graph.nodes["pairs", 4]["stage"] == 0


def test_an_action_reuses_the_shuffle_files_of_the_previous_one():
    ctx = Context()
    counts = word_counts(ctx)
    counts.collect()
    ctx.reset_counts()
    counts.collect()
    assert sorted(ctx.log) == [("counts", 0), ("counts", 1), ("counts", 2)]


def test_a_cached_dataset_is_computed_once():
    ctx = Context()
    counts = word_counts(ctx, cache_counts=True)
    first = counts.collect()
    assert counts.collect() == first and ctx.computed["counts", 0] == 1


def test_a_lost_machine_costs_exactly_the_partitions_it_held():
    ctx = Context(("m1", "m2", "m3"))
    counts = word_counts(ctx, cache_pairs=True, cache_counts=True)
    before = counts.collect()
    ctx.reset_counts()
    assert ctx.lose("m2") == 2 + 2 + 1  # pairs 1 and 4, their shuffle files, counts 1
    assert counts.collect() == before
    assert sorted(ctx.log) == [("counts", 1), ("counts (map side)", 1),
                               ("counts (map side)", 4), ("pairs", 1), ("pairs", 4),
                               ("words", 1), ("words", 4)]


def test_bad_arguments_are_refused_with_a_message():
    with pytest.raises(ValueError, match="at least one machine"):
        Context(())
    ctx = Context()
    with pytest.raises(ValueError, match="no machine 'm9'"):
        ctx.lose("m9")
    with pytest.raises(ValueError, match="at least one partition"):
        ctx.source("empty", [])
    with pytest.raises(ValueError, match="at least 1 partition"):
        ctx.source("s", [[("a", 1)]]).reduce_by_key(operator.add, -1)


# -- streaming ----------------------------------------------------------------------------------
STREAM = out_of_order_stream(150, seed=3)


def test_the_stream_arrives_out_of_order():
    times = [r.event_time for r in STREAM]
    assert times != sorted(times)
    assert all(r.arrival >= r.event_time for r in STREAM)


def test_a_watermark_lag_above_the_largest_delay_gets_the_true_counts():
    run = tumbling_counts(STREAM, 5, lag=max(r.arrival - r.event_time for r in STREAM))
    assert run.late == [] and run.final_counts() == true_counts(STREAM, 5)
    assert not any(f.update for f in run.firings)


def test_a_short_lag_drops_late_records_and_counts_every_other_one_once():
    run = tumbling_counts(STREAM, 5, lag=0)
    counted = sum(sum(c.values()) for c in run.final_counts().values())
    assert run.late and counted + len(run.late) == len(STREAM)
    assert run.final_counts() != true_counts(STREAM, 5)


def test_allowed_lateness_updates_fired_windows_to_the_true_counts():
    run = tumbling_counts(STREAM, 5, lag=0, allowed_lateness=30)
    assert run.late == [] and run.final_counts() == true_counts(STREAM, 5)
    assert any(f.update for f in run.firings)


def test_windows_of_arrival_time_are_wrong_for_an_out_of_order_stream():
    assert processing_time_counts(STREAM, 5) != true_counts(STREAM, 5)


def test_window_arguments_are_checked():
    with pytest.raises(ValueError, match="size > 0"):
        tumbling_counts(STREAM, 0, lag=1)
