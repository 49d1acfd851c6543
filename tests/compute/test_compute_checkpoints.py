"""Tests of distlab.compute.checkpoints: only aligned barriers give a snapshot from which
recovery counts every record exactly once."""

from __future__ import annotations

import pytest

from distlab.compute.checkpoints import arrival_order, channels, snapshot_and_recover

SEEDS = range(20)


def recoveries(rule):
    for seed in SEEDS:
        inputs = channels(12, 6, seed=seed)
        yield snapshot_and_recover(inputs, arrival_order(inputs, seed=seed), rule)


def test_aligned_barriers_recover_every_record_exactly_once():
    assert all(r.error == 0 for r in recoveries("aligned"))


def test_a_snapshot_at_the_first_barrier_loses_records_in_flight():
    errors = [r.error for r in recoveries("first barrier")]
    assert all(e <= 0 for e in errors) and any(e < 0 for e in errors)


def test_a_snapshot_at_the_last_barrier_without_holding_back_counts_records_twice():
    errors = [r.error for r in recoveries("last barrier")]
    assert all(e >= 0 for e in errors) and any(e > 0 for e in errors)


def test_bad_arguments_are_refused_with_a_message():
    inputs = channels(4, 2)
    with pytest.raises(ValueError, match="rule must be one of"):
        snapshot_and_recover(inputs, arrival_order(inputs), "never")
    with pytest.raises(ValueError, match="once per item"):
        snapshot_and_recover(inputs, ["A"], "aligned")
    with pytest.raises(ValueError, match="barrier goes after 0 to 4"):
        channels(4, 5)
