"""Tests of distlab.kv.multi_leader and distlab.kv.versions: every replica takes writes.

What they prove: both conflict rules converge (every replica ends with the same versions)
under crashes, partitions, loss and duplication; neither is linearizable; last-writer-wins
loses acknowledged updates, even without a fault, while keeping siblings with version
vectors loses none: concurrent versions are kept side by side, shown by a ``get``, and
the application's merge (the union of a shopping cart) keeps every item.
"""

from __future__ import annotations

import pytest

from distlab.check import check_linearizability
from distlab.clocks.logical import VectorClock
from distlab.kv.multi_leader import MultiLeaderKV
from distlab.kv.runs import (SERVERS, ScriptedKVClient, acknowledged_appends, cart_run,
                             lost_appends, merged_values, multi_leader_run, multi_leader_sim,
                             outcome_counts)
from distlab.kv.versions import Version, context, keep_siblings, last_writer_wins, merge_items
from distlab.sim import Nemesis
from distlab.workloads.kv import MODEL

PARTITION = (300.0, 1_000.0)
OPTIONS = {"think": 50.0}


def v(value: str, stamp: float, **counts: int) -> Version:
    return Version(value, VectorClock.of(counts), (stamp, "a"))


# -- versions ------------------------------------------------------------------------------------
def test_keep_siblings_keeps_concurrent_versions_and_drops_ancestors():
    old, left, right = v("x;", 1, a=1), v("x;l;", 2, a=2), v("x;r;", 3, a=1, b=1)
    assert keep_siblings((old,), left) == (left,)                  # left descends from old
    assert keep_siblings((left,), right) == (left, right)          # concurrent: both kept
    assert keep_siblings((left, right), old) == (left, right)      # an ancestor: ignored
    assert keep_siblings((left, right), left) == (left, right)     # known: not twice
    merged = v("x;l;r;", 4, a=3, b=1)
    assert merged.clock == context((left, right)).increment("a")
    assert keep_siblings((left, right), merged) == (merged,)


def test_last_writer_wins_keeps_the_highest_stamp_only():
    first, second = v("1;", 1, a=1), v("2;", 2, b=1)
    assert last_writer_wins(first, second) == (second,)
    assert last_writer_wins(second, first) == (second,)
    assert last_writer_wins(None, first) == (first,)


def test_merge_items_is_the_union_in_order_first_seen():
    assert merge_items(["a;b;", "a;c;", ""]) == "a;b;c;"
    assert merge_items([]) == ""


# -- the store -----------------------------------------------------------------------------------
def test_siblings_are_shown_by_a_get_and_merged_by_the_next_write():
    sim = cart_run("siblings")
    gets = [op.output for op in sim.history if op.f == "get"]
    assert gets == ["milk;eggs; | milk;flour;", "milk;eggs;flour;tea;"]
    assert outcome_counts(sim.history)["ok"] == len(sim.history) == 6
    assert set(merged_values(sim, "cart").values()) == {"milk;eggs;flour;tea;"}


def test_last_writer_wins_drops_one_of_the_concurrent_items():
    sim = cart_run("lww")
    gets = [op.output for op in sim.history if op.f == "get"]
    assert gets == ["milk;flour;", "milk;flour;tea;"]          # eggs lost: flour is later
    assert set(merged_values(sim, "cart").values()) == {"milk;flour;tea;"}


@pytest.mark.parametrize("resolve", MultiLeaderKV.rules)
def test_same_seed_same_history(resolve):
    first = multi_leader_run(resolve, 3, PARTITION, **OPTIONS).history.to_jepsen()
    assert first == multi_leader_run(resolve, 3, PARTITION, **OPTIONS).history.to_jepsen()


@pytest.mark.parametrize("resolve", MultiLeaderKV.rules)
def test_neither_rule_is_linearizable(resolve):
    sim = multi_leader_run(resolve, 1, PARTITION, **OPTIONS)
    assert outcome_counts(sim.history)["ok"] == len(sim.history) == 60   # always available
    assert not check_linearizability(sim.history, MODEL, timeout=30).ok


def test_lww_loses_acknowledged_appends_even_without_a_fault():
    for seed in range(5):
        sim = multi_leader_run("lww", seed, **OPTIONS)
        finals = merged_values(sim, "cart")
        assert len(set(finals.values())) == 1
        assert lost_appends(sim.history, "cart", finals["a"]), f"seed {seed}"


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("resolve", MultiLeaderKV.rules)
def test_both_rules_converge_under_crashes_partitions_loss_and_duplication(resolve, seed):
    sim = multi_leader_sim(resolve, seed, ops=15, **OPTIONS)
    Nemesis(interval=250, nodes=list(SERVERS), stop=1_500, loss=0.3,
            duplicate=0.3).install(sim)
    sim.run(until=4_000)
    finals = merged_values(sim, "cart")
    assert len(finals) == 3 and len(set(finals.values())) == 1, finals
    lost = lost_appends(sim.history, "cart", finals["a"])
    if resolve == "siblings":
        assert acknowledged_appends(sim.history, "cart") and not lost


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="unknown resolve rule 'first'"):
        multi_leader_sim("first")
    with pytest.raises(ValueError, match="a script step is"):
        ScriptedKVClient("a", script=((0, "delete", "x", None),))
