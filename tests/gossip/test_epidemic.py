"""Tests of distlab.gossip: dissemination, rounds against log N, loss, rumour mongering."""

from __future__ import annotations

import statistics

import networkx as nx
import pytest

from distlab.gossip.epidemic import MODES, AntiEntropyNode, RumourMongeringNode
from distlab.gossip.runs import log_bound, rounds_to_all, rumour_mongering, spread
from distlab.sim import Network, Simulation, Uniform


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_reaches_every_node(mode):
    for seed in range(5):
        run = spread(32, mode=mode, seed=seed)
        assert run.rounds_to_all is not None
        assert run.curve[0] == 1 and run.curve[-1] == 32
        assert run.curve == sorted(run.curve)   # nobody forgets
        assert run.informed[0] == {"n0"}


@pytest.mark.parametrize("mode", MODES)
def test_rounds_grow_like_log_n(mode):
    means = rounds_to_all([8, 32, 128], mode=mode, seeds=range(6))
    assert means[8] < means[32] < means[128]
    assert means[128] <= log_bound(128)          # 3 * log2(128) = 21 rounds
    assert means[128] >= 0.9 * (means[32] - 2)   # no faster than logarithmic either


def test_push_pull_is_faster_than_push_and_pull():
    means = {mode: rounds_to_all([64], mode=mode, seeds=range(8))[64] for mode in MODES}
    assert means["push-pull"] < means["pull"] < means["push"]


def test_pull_finishes_fast_once_most_know():
    # the tail: from half informed to all, pull needs fewer rounds than push
    def tail(mode: str) -> float:
        tails = []
        for seed in range(8):
            curve = spread(128, mode=mode, seed=seed).curve
            half = next(r for r, k in enumerate(curve) if k >= 64)
            tails.append(len(curve) - 1 - half)
        return statistics.mean(tails)

    assert tail("pull") < tail("push")


def test_loss_slows_push_pull_but_does_not_stop_it():
    clean = rounds_to_all([64], seeds=range(10))[64]
    lossy = rounds_to_all([64], seeds=range(10), loss=0.3)[64]
    assert lossy > clean
    heavy = spread(64, seed=1, loss=0.6)
    assert heavy.rounds_to_all is not None


def test_crashed_nodes_do_not_stop_the_others_hearing():
    down = [f"n{i}" for i in range(1, 32, 3)]
    run = spread(32, seed=2, down=down)
    assert run.n == 32 - len(down)
    assert run.rounds_to_all is not None
    assert not (run.informed[-1] & set(down))


def test_a_topology_limits_how_far_a_rumour_goes_per_round():
    ring = nx.cycle_graph(20)
    distance = nx.eccentricity(ring, 0)   # the farthest node is 10 hops away
    # push: a node pushes in the round after it learned, so one hop per round
    assert spread(topology=ring, mode="push", seed=1, origin="0").rounds_to_all >= distance
    # push-pull: a pull can reach a node that learned earlier in the same round: two hops
    run = spread(topology=ring, mode="push-pull", seed=1, origin="0")
    assert distance / 2 <= run.rounds_to_all < distance + 5
    expander = nx.random_regular_graph(4, 64, seed=1)
    assert spread(topology=expander, seed=1).rounds_to_all <= log_bound(64)


def test_a_disconnected_topology_is_refused():
    with pytest.raises(ValueError, match="not connected"):
        spread(topology=nx.empty_graph(4))


def test_a_partition_stops_gossip_until_it_heals():
    ids = [f"n{i}" for i in range(10)]
    sim = Simulation(seed=1, network=Network(latency=Uniform(1, 10)))
    for node_id in ids:
        sim.add_node(AntiEntropyNode, node_id, rumours=("r",) if node_id == "n0" else ())
    left = set(ids[:5])
    sim.partition(left, set(ids) - left)
    sim.run(until=3_000)
    assert {i for i in ids if "r" in sim.nodes[i].known} == left
    sim.heal()
    sim.run(until=5_000)
    assert all("r" in sim.nodes[i].known for i in ids)


def test_what_a_node_knows_survives_its_crash():
    ids = [f"n{i}" for i in range(6)]
    sim = Simulation(seed=1)
    for node_id in ids:
        sim.add_node(AntiEntropyNode, node_id, rumours=("r",) if node_id == "n0" else ())
    sim.run(until=1_000)
    sim.crash("n3")
    sim.restart("n3")
    assert "r" in sim.nodes["n3"].known


def test_anti_entropy_keeps_paying_after_everyone_knows():
    ids = [f"n{i}" for i in range(16)]
    sim = Simulation(seed=1)
    for node_id in ids:
        sim.add_node(AntiEntropyNode, node_id, rumours=("r",) if node_id == "n0" else ())
    sim.run(until=2_000)
    assert all("r" in sim.nodes[i].known for i in ids)
    before = len(sim.trace.of_kind("send"))
    sim.run(until=3_000)
    assert len(sim.trace.of_kind("send")) - before >= 16 * 10   # a message per node per round


def test_rumour_mongering_stops_by_itself():
    ids = [f"n{i}" for i in range(16)]
    sim = Simulation(seed=1)
    for node_id in ids:
        sim.add_node(RumourMongeringNode, node_id, k=2,
                     rumours=("r",) if node_id == "n0" else ())
    sim.run(until=5_000)
    assert not any(sim.nodes[i].hot for i in ids)
    before = len(sim.trace.of_kind("send"))
    sim.run(until=6_000)
    assert len(sim.trace.of_kind("send")) == before


def test_rumour_mongering_trades_residue_for_traffic():
    def mean(k: int, field: str) -> float:
        return statistics.mean(getattr(rumour_mongering(100, k=k, seed=s), field)
                               for s in range(10))

    residues = [mean(k, "residue") for k in (1, 2, 3)]
    traffic = [mean(k, "traffic") for k in (1, 2, 3)]
    assert residues[0] > residues[1] > residues[2]
    assert residues[0] > 0.05          # k = 1 leaves many ignorant (Demers: about 18%)
    assert traffic[0] < traffic[1] < traffic[2]


def test_fanout_speeds_spreading():
    one = rounds_to_all([64], seeds=range(6), fanout=1)[64]
    three = rounds_to_all([64], seeds=range(6), fanout=3)[64]
    assert three < one


def test_same_seed_same_curve():
    assert spread(32, seed=4, loss=0.2).informed == spread(32, seed=4, loss=0.2).informed


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="mode"):
        spread(8, mode="shout")
    with pytest.raises(ValueError, match="fanout"):
        spread(8, fanout=0)
    with pytest.raises(ValueError, match="k must"):
        rumour_mongering(8, k=0)
