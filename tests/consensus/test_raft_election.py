"""Tests of distlab.consensus.raft's election: safety under faults, liveness, durable votes."""

from __future__ import annotations

import pytest

from distlab.consensus.raft.election import RaftElectionNode
from distlab.consensus.raft.messages import RequestVoteReply
from distlab.consensus.raft.runs import election_terms, raft_election, raft_election_study
from distlab.sim import Nemesis, Network, Simulation, Uniform


# -- the election ---------------------------------------------------------------------------
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
    term, vote = sim.nodes[voter].term, sim.nodes[voter].voted_for
    sim.crash(voter)
    sim.restart(voter)
    assert (sim.nodes[voter].term, sim.nodes[voter].voted_for) == (term, vote)


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
