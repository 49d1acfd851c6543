"""Tests of distlab.election: Bully, ring (Chang-Roberts) and Raft-style elections."""

from __future__ import annotations

import pytest

from distlab.election import (BULLY_MESSAGES, BullyNode, RaftElectionNode, RequestVoteReply,
                              bully_election, count_messages, election_terms, raft_election,
                              raft_election_study, rank, ring_election)
from distlab.sim import Nemesis, Network, Simulation, Uniform


def test_rank_is_natural_order():
    assert rank("n2") < rank("n10")
    assert rank("9") < rank("10")
    assert sorted(["n10", "n9", "n1"], key=rank) == ["n1", "n9", "n10"]


# -- Bully -----------------------------------------------------------------------------------------
def bully_sim(n: int = 5, seed: int = 1, **kwargs) -> tuple[Simulation, list[str]]:
    ids = [f"n{i}" for i in range(1, n + 1)]
    sim = Simulation(seed=seed, network=Network(latency=Uniform(1, 10)))
    sim.add_nodes(BullyNode, ids, **kwargs)
    return sim, ids


def leaders(sim: Simulation, ids: list[str]) -> set:
    return {sim.nodes[i].leader for i in ids if sim.is_up(i)}


@pytest.mark.parametrize("seed", range(10))
def test_bully_elects_the_highest_live_id(seed):
    sim, ids = bully_sim(n=6, seed=seed)
    sim.crash("n6")   # down from the start
    sim.run(until=1_000)
    assert leaders(sim, ids) == {"n5"}


@pytest.mark.parametrize("seed", range(10))
def test_bully_reelects_after_the_leader_crashes_and_yields_when_it_returns(seed):
    sim, ids = bully_sim(n=5, seed=seed)
    sim.run(until=500)
    assert leaders(sim, ids) == {"n5"}
    sim.crash("n5")
    sim.run(until=1_500)
    assert leaders(sim, ids) == {"n4"}
    sim.crash("n4")
    sim.run(until=2_500)
    assert leaders(sim, ids) == {"n3"}
    sim.restart("n5")      # it comes back and bullies its way to the top
    sim.run(until=3_500)
    assert leaders(sim, ids) == {"n5"}


def test_bully_recovers_from_a_partition():
    sim, ids = bully_sim(n=5, seed=3)
    sim.run(until=500)
    sim.partition({"n4", "n5"}, {"n1", "n2", "n3"})
    sim.run(until=1_500)
    assert {sim.nodes[i].leader for i in ("n1", "n2", "n3")} == {"n3"}
    sim.heal()
    sim.run(until=2_500)
    assert leaders(sim, ids) == {"n5"}


@pytest.mark.parametrize("n", [3, 5, 8])
def test_bully_message_counts_best_and_worst_case(n):
    # best: the highest survivor notices; one Election (to the dead leader), n-2 Coordinator
    assert bully_election(n, initiator="highest").messages == n - 1
    # worst: the lowest notices; every node challenges all above it -- O(n^2)
    for seed in range(3):
        run = bully_election(n, initiator="lowest", seed=seed)
        assert run.leader == f"n{n - 1}"
        assert run.messages == (n - 1) ** 2 + n - 2


@pytest.mark.parametrize("heartbeats", [None, 50.0])
def test_bully_costs_quadratic_not_exponential_messages_when_all_start_at_once(heartbeats):
    # every node starts an election at t=0; then (with heartbeats) all notice a crash at once
    for n in (8, 16, 24):
        sim, ids = bully_sim(n=n, seed=2, heartbeat_interval=heartbeats)
        sim.run(until=1_000)
        assert leaders(sim, ids) == {f"n{n}"}
        assert count_messages(sim, BULLY_MESSAGES) <= 2 * n * n
        if heartbeats:
            crashed_at = sim.now
            sim.crash(f"n{n}")
            sim.run(until=3_000)
            assert leaders(sim, ids) == {f"n{n - 1}"}
            assert count_messages(sim, BULLY_MESSAGES, since=crashed_at) <= 2 * n * n


def test_bully_messages_can_be_counted_from_the_trace():
    sim, ids = bully_sim(n=4, seed=1, heartbeat_interval=None)
    sim.run(until=1_000)
    total = count_messages(sim, BULLY_MESSAGES)
    assert total == len(sim.trace.of_kind("send")) > 0


def test_bully_refuses_a_leader_timeout_shorter_than_heartbeats():
    sim = Simulation(seed=1)
    with pytest.raises(ValueError, match="leader_timeout"):
        sim.add_node(BullyNode, "n1", heartbeat_interval=100, leader_timeout=50)


# -- ring election ---------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [4, 9, 16])
def test_ring_election_message_counts_by_arrangement(n):
    best = ring_election(n, arrangement="increasing")
    worst = ring_election(n, arrangement="decreasing")
    assert best.leader == worst.leader == f"n{n}"
    assert best.messages == 3 * n - 1               # n candidates, one lap, n announcements
    assert worst.messages == n * (n + 1) // 2 + n   # candidate i travels i hops
    for seed in range(5):
        run = ring_election(n, arrangement="random", seed=seed)
        assert run.leader == f"n{n}"
        assert best.messages <= run.messages <= worst.messages


def test_ring_election_with_one_initiator_takes_three_laps_at_most():
    for seed in range(5):
        run = ring_election(10, initiators="one", seed=seed)
        assert run.leader == "n10"
        assert run.messages <= 3 * 10


def test_ring_election_rejects_a_bad_ring():
    with pytest.raises(ValueError, match="arrangement"):
        ring_election(4, arrangement="sideways")


# -- Raft-style election ---------------------------------------------------------------------------
def raft_sim(seed: int, n: int = 5, loss: float = 0.0, **kwargs) -> tuple[Simulation, list[str]]:
    ids = [f"n{i}" for i in range(1, n + 1)]
    sim = Simulation(seed=seed, network=Network(latency=Uniform(1, 10), loss=loss))
    sim.add_nodes(RaftElectionNode, ids, **kwargs)
    return sim, ids


def assert_election_safety(sim: Simulation) -> None:
    for term, outcome in election_terms(sim).items():
        assert len(outcome.leaders) <= 1, f"term {term} has leaders {sorted(outcome.leaders)}"


def assert_one_vote_per_term(sim: Simulation) -> None:
    granted: dict[tuple[str, int], set[str]] = {}
    for e in sim.trace.of_kind("send"):
        if isinstance(e.data, RequestVoteReply) and e.data.vote_granted:
            granted.setdefault((e.node, e.data.term), set()).add(e.peer)
    for (voter, term), candidates in granted.items():
        assert len(candidates) == 1, f"{voter} voted for {sorted(candidates)} in term {term}"


def current_leaders(sim: Simulation, ids: list[str]) -> list[str]:
    return [i for i in ids if sim.is_up(i) and sim.nodes[i].role == "leader"]


@pytest.mark.parametrize("seed", range(30))
def test_raft_elects_one_leader_that_everyone_follows(seed):
    sim, ids = raft_sim(seed)
    sim.run(until=3_000)
    assert_election_safety(sim)
    (leader,) = current_leaders(sim, ids)
    assert {sim.nodes[i].leader_id for i in ids} == {leader}


@pytest.mark.parametrize("seed", range(40))
def test_raft_at_most_one_leader_per_term_under_partitions_crashes_and_loss(seed):
    sim, ids = raft_sim(seed, loss=0.1)
    Nemesis(interval=400, max_crashed=2, stop=8_000).install(sim)
    sim.run(until=8_000)
    assert_election_safety(sim)
    assert_one_vote_per_term(sim)
    # the nemesis repaired everything at 8 s: a leader emerges
    assert sim.run_until(lambda: len(current_leaders(sim, ids)) == 1, timeout=5_000)


@pytest.mark.parametrize("seed", range(20))
def test_raft_no_leader_without_a_majority_then_one_after_healing(seed):
    sim, ids = raft_sim(seed)
    sim.partition({"n1", "n2"}, {"n3", "n4"}, {"n5"})
    sim.run(until=3_000)
    assert current_leaders(sim, ids) == []          # no group has 3 of 5
    sim.heal()
    assert sim.run_until(lambda: len(current_leaders(sim, ids)) == 1, timeout=3_000)
    assert_election_safety(sim)


@pytest.mark.parametrize("seed", range(20))
def test_raft_a_deposed_leader_steps_down_after_healing(seed):
    sim, ids = raft_sim(seed)
    sim.run_until(lambda: len(current_leaders(sim, ids)) == 1, timeout=3_000)
    (old,) = current_leaders(sim, ids)
    sim.partition({old}, set(ids) - {old})
    sim.run(until=sim.now + 2_000)
    majority_leaders = [i for i in current_leaders(sim, ids) if i != old]
    assert len(majority_leaders) == 1               # the majority elected a new leader ...
    assert sim.nodes[old].role == "leader"          # ... while the old one still believes
    sim.heal()
    sim.run(until=sim.now + 1_000)
    assert len(current_leaders(sim, ids)) == 1
    assert sim.nodes[old].role == "follower"
    assert_election_safety(sim)


def test_raft_votes_survive_a_crash():
    sim, ids = raft_sim(seed=1)
    sim.run_until(lambda: len(current_leaders(sim, ids)) == 1, timeout=3_000)
    voter = next(i for i in ids if sim.nodes[i].role == "follower")
    term, vote = sim.nodes[voter].current_term, sim.nodes[voter].voted_for
    sim.crash(voter)
    sim.restart(voter)
    assert (sim.nodes[voter].current_term, sim.nodes[voter].voted_for) == (term, vote)


def test_raft_with_equal_timeouts_splits_forever():
    run = raft_election(seed=1, election_timeout=(150, 150))
    assert run.time is None


def test_raft_wider_timeout_ranges_split_less():
    narrow, wide = raft_election_study([(150, 155), (150, 300)], seeds=range(40))
    assert narrow.no_leader == wide.no_leader == 0
    assert narrow.split_vote_rate > wide.split_vote_rate
    assert narrow.mean_terms > wide.mean_terms >= 1


def test_raft_refuses_heartbeats_slower_than_the_timeout():
    sim = Simulation(seed=1)
    with pytest.raises(ValueError, match="heartbeat_interval"):
        sim.add_node(RaftElectionNode, "n1", election_timeout=(100, 200), heartbeat_interval=150)
    with pytest.raises(ValueError, match="election_timeout"):
        sim.add_node(RaftElectionNode, "n2", election_timeout=(300, 200))


def test_raft_same_seed_same_trace():
    first, _ = raft_sim(seed=11)
    second, _ = raft_sim(seed=11)
    first.run(until=2_000)
    second.run(until=2_000)
    assert first.trace.dumps() == second.trace.dumps()
