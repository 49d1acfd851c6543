"""Tests of distlab.election: the Bully algorithm and ring (Chang-Roberts) election."""

from __future__ import annotations

import pytest

from distlab.election.bully import BULLY_MESSAGES, BullyNode
from distlab.election.rank import rank
from distlab.election.runs import bully_election, count_messages, ring_election
from distlab.sim import Network, Simulation, Uniform


def test_rank_is_natural_order():
    assert rank("n2") < rank("n10")
    assert rank("9") < rank("10")
    assert sorted(["n10", "n9", "n1"], key=rank) == ["n1", "n9", "n10"]


# -- Bully ---------------------------------------------------------------------------------------
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


# -- ring election -------------------------------------------------------------------------------
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


def test_crashing_the_raft_leader_samples_every_node_until_a_new_leader_wins():
    from distlab.consensus.raft.runs import election_terms
    from distlab.election.runs import crash_the_leader, leader_of

    sim, samples = crash_the_leader(seed=1)
    assert samples[0][0] == 2.0 and samples[-1][0] == 1_300.0
    assert all(b - a == pytest.approx(2.0) for (a, _), (b, _) in zip(samples, samples[1:]))
    first = next(iter(election_terms(sim)[1].leaders))
    after = dict(samples)[500.0 + 2.0]
    assert after[first] == ("crashed", None)
    assert leader_of(sim) not in (None, first)
    assert crash_the_leader(seed=1)[1] == samples  # the same seed, the same samples


def test_sampling_needs_a_positive_step():
    from distlab.election.runs import sample_roles

    with pytest.raises(ValueError, match="step must be a positive number of ms"):
        sample_roles(Simulation(seed=0), 10, [], step=0)
