"""FLP's adversary, as a network for Paxos: holding every Accept until it is overtaken keeps
two proposers undecided for ever; with a bound on the hold, random retry delays decide, and
fixed ones can stay in lock-step. Safety holds in every one of these runs."""

from __future__ import annotations

import math

import pytest

from distlab.consensus.paxos.adversary import AcceptHoldingScheduler
from distlab.consensus.paxos.runs import adversarial_duel, ballots_started, first_chosen


@pytest.mark.parametrize("retry_after", [55.0, (30.0, 90.0)])
def test_an_adversary_that_holds_every_accept_keeps_paxos_from_ever_deciding(retry_after):
    sim = adversarial_duel(retry_after, max_hold=math.inf, until=2_000)
    assert first_chosen(sim) is None
    assert ballots_started(sim) > 50        # the proposers kept trying, all along
    assert all(sim.nodes[p].chosen is None for p in ("p1", "p2"))


def test_with_a_bounded_hold_fixed_retries_can_stay_in_lock_step_for_ever():
    sim = adversarial_duel(55.0, max_hold=30.0, second_starts=25.0, until=2_000)
    assert first_chosen(sim) is None and ballots_started(sim) > 50


def test_with_a_bounded_hold_random_retries_decide_in_every_seed():
    for seed in range(30):
        sim = adversarial_duel((30.0, 90.0), max_hold=30.0, seed=seed, until=2_000)
        chosen = first_chosen(sim)
        assert chosen is not None, seed
        assert chosen[1] in ("v1", "v2")


def test_a_lone_attempt_that_is_not_overtaken_is_only_delayed_by_the_hold():
    # p2 starts so late that p1's first Accept is released after the full hold, and chosen
    sim = adversarial_duel(1_000.0, max_hold=30.0, second_starts=500.0, latency=5.0,
                           until=400)
    assert first_chosen(sim) == (45.0, "v1")   # 3 latencies + the hold
    assert sim.nodes["p1"].chosen == "v1"


def test_a_distinguished_proposer_decides_where_two_fixed_ones_stay_in_lock_step():
    sim = adversarial_duel(55.0, max_hold=30.0, distinguished=True, until=2_000)
    assert "p2" not in sim.nodes
    assert first_chosen(sim) == (45.0, "v1") and sim.nodes["p1"].chosen == "v1"
    # ...but not against an adversary without a bound: it overtakes p1 with p1's own retry
    sim = adversarial_duel(55.0, max_hold=math.inf, distinguished=True, until=2_000)
    assert first_chosen(sim) is None


def test_the_adversary_refuses_a_meaningless_hold():
    with pytest.raises(ValueError, match="max_hold"):
        AcceptHoldingScheduler(-1)
    with pytest.raises(ValueError, match="retry_after"):
        adversarial_duel((90.0, 30.0))
