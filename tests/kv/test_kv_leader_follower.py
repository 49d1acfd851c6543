"""Tests of distlab.kv.leader_follower: what each mode of leader-follower replication promises.

Without faults every mode is linearizable (the leader alone answers, from its own copy); the
modes differ in what a client waits for (sync: the farthest follower, semi-sync: the nearest,
async: nobody) and in what survives the leader's crash (sync and semi-sync: every
acknowledged write, when the follower that takes over had them; async: not the writes still
in the leader's hands, which a later read then misses: not linearizable). Synchronous mode
stays linearizable under random crashes, partitions, loss and duplication, paying with
availability: with a server down, nothing completes.
"""

from __future__ import annotations

import statistics

import pytest

from distlab.check import check_linearizability
from distlab.kv.leader_follower import ReplicatedKV
from distlab.kv.runs import (SERVERS, acknowledged_appends, failover_run, leader_follower_sim,
                             leader_of, lost_appends, operation_latencies, outcome_counts)
from distlab.sim import Nemesis, Simulation
from distlab.workloads.kv import MODEL

MODES = ("sync", "semi-sync", "async")


def linearizable(sim: Simulation) -> bool:
    return check_linearizability(sim.history, MODEL, timeout=30).ok


def lost(sim: Simulation) -> list[str]:
    leader = leader_of(sim)
    assert leader is not None
    return lost_appends(sim.history, "y", sim.nodes[leader].machine.data.get("y"))


@pytest.mark.parametrize("mode", MODES)
def test_without_faults_every_mode_is_linearizable_and_the_copies_agree(mode):
    for seed in range(5):
        sim = leader_follower_sim(mode, seed)
        sim.run(until=3_000)
        assert outcome_counts(sim.history)["ok"] == len(sim.history) == 60
        assert linearizable(sim), f"seed {seed}"
        datas = {repr(sim.nodes[s].machine.data) for s in SERVERS}
        assert len(datas) == 1


def test_a_client_waits_for_the_farthest_nearest_or_no_follower():
    means = {}
    for mode in MODES:
        sim = leader_follower_sim(mode, 1, follower_latency={"b": 10, "c": 40},
                                  client_latency=1)
        sim.run(until=5_000)
        means[mode] = statistics.mean(operation_latencies(sim.history))
    assert means["sync"] == pytest.approx(2 * 40 + 2)
    assert means["semi-sync"] == pytest.approx(2 * 10 + 2)
    assert means["async"] == pytest.approx(2)


def test_same_seed_same_history():
    first = failover_run("async", 3, ship_every=50).history.to_jepsen()
    assert first == failover_run("async", 3, ship_every=50).history.to_jepsen()
    assert first != failover_run("async", 4, ship_every=50).history.to_jepsen()


def test_async_failover_loses_acknowledged_writes_and_is_not_linearizable():
    for seed in range(1, 6):
        sim = failover_run("async", seed, ship_every=50, duration=4_000)
        assert leader_of(sim) == "b"
        assert lost(sim), f"seed {seed}"
        assert not linearizable(sim), f"seed {seed}"


def test_lost_writes_grow_with_the_replication_lag():
    totals = [sum(len(lost(failover_run("async", seed, ship_every=ship, duration=4_000)))
                  for seed in range(1, 6)) for ship in (0, 20, 50, 100)]
    assert totals[0] == 0
    assert totals == sorted(totals) and totals[-1] > totals[1] > 0


def test_semi_sync_failover_to_the_acknowledging_follower_loses_nothing():
    for seed in range(1, 6):
        sim = failover_run("semi-sync", seed, ship_every=50, duration=4_000)
        assert leader_of(sim) == "b"
        assert acknowledged_appends(sim.history, "y") and not lost(sim)
        assert linearizable(sim), f"seed {seed}"


def test_sync_keeps_every_write_but_stops_while_a_server_is_down():
    sim = failover_run("sync", 1, duration=4_000)
    assert leader_of(sim) == "b" and not lost(sim)
    after = [op for op in sim.history if op.invoke_time > 300]
    assert after and all(op.status == "pending" for op in after[-2:])
    assert linearizable(sim)


def test_the_old_leader_returns_as_a_follower_and_drops_what_it_alone_had():
    sim = leader_follower_sim("async", 2, operations=(("append", "y"),), ship_every=50,
                              follower_latency={"b": 10, "c": 10})
    sim.at(300, sim.crash, "a")
    sim.at(900, sim.restart, "a")
    sim.run(until=3_000)
    a, b = sim.nodes["a"], sim.nodes["b"]
    assert not a.is_leader and a.epoch == b.epoch == (1, "b")
    assert a.machine.data == b.machine.data == sim.nodes["c"].machine.data


def test_a_follower_redirects_clients_to_the_leader():
    sim = leader_follower_sim("async", 1, clients=1, ops=5)
    sim.nodes["c1"].server = "c"       # start at a follower
    sim.run(until=1_000)
    assert outcome_counts(sim.history)["ok"] == 5
    assert sim.trace.counts()["deliver"] > 0


@pytest.mark.parametrize("seed", range(12))
def test_sync_is_linearizable_under_crashes_partitions_loss_and_duplication(seed):
    sim = leader_follower_sim("sync", seed, clients=3, ops=25, retry=100)
    Nemesis(interval=300, nodes=list(SERVERS), stop=2_500, loss=0.2,
            duplicate=0.2).install(sim)
    sim.run(until=6_000)
    assert outcome_counts(sim.history)["ok"] > 10
    assert linearizable(sim), f"seed {seed}"


def test_async_under_partitions_can_answer_from_two_leaders():
    sim = leader_follower_sim("async", 1, clients=2, operations=(("append", "y"),
                                                                 ("get", "y")))
    sim.at(200, sim.partition, {"a", "c1"}, {"b", "c", "c2"})
    sim.at(1_000, sim.heal)
    sim.run(until=3_000)
    during = [op for op in sim.history if op.status == "ok" and 400 < op.invoke_time < 900]
    assert {op.process for op in during} == {"c1", "c2"}   # both sides served
    assert not linearizable(sim)


def test_bad_configuration_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="unknown mode 'quorum'"):
        leader_follower_sim("quorum")
    with pytest.raises(ValueError, match="the followers are b, c"):
        leader_follower_sim("sync", follower_latency={"a": 5})
    sim = Simulation()
    with pytest.raises(Exception, match="not in servers"):
        sim.add_node(ReplicatedKV, "z", servers=("a", "b"))
