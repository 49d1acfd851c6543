"""Tests of distlab.consensus.zab: Zab replicating a key-value store.

A quiet cluster elects a leader, goes through discovery, synchronisation and broadcast in
that order and answers every client; a crashed leader is replaced in a later epoch; a
restarted follower keeps its durable history and is synchronised again; a follower refuses
an epoch older than one it accepted; runs under every fault keep Zab's invariants and give
linearizable histories; the zxid-order invariant rejects an out-of-order history; the mistake
of `distlab.consensus.zab.bugs` is caught on a scripted run where the reference stays safe;
bad configurations are refused with a message.
"""

from __future__ import annotations

from collections import Counter

import pytest

from distlab.check import InvariantViolation, check_linearizability, check_now, watch
from distlab.consensus.zab import bugs
from distlab.consensus.zab.invariants import zab_invariants, zxids_increase
from distlab.consensus.zab.messages import NewEpoch, Txn
from distlab.consensus.zab.runs import forced_leader, leader, zab_kv, zab_safety_run
from distlab.consensus.zab.server import ZabServer
from distlab.sim import ConfigurationError, Nemesis, Node, NodeError, Simulation
from distlab.workloads.kv import MODEL

SERVERS = ["n1", "n2", "n3"]


def statuses(sim: Simulation) -> Counter:
    return Counter(op.status for op in sim.history.operations)


def test_a_quiet_cluster_answers_every_client_and_delivers_one_sequence():
    sim = zab_kv(seed=1, clients=3, ops=15)
    watch(sim, *zab_invariants())
    sim.run(until=5_000)
    assert statuses(sim) == Counter(ok=45)
    assert check_linearizability(sim.history, MODEL).ok
    histories = [tuple(sim.nodes[s].history) for s in SERVERS]
    assert histories[0] == histories[1] == histories[2] and len(histories[0]) == 45
    assert [sim.nodes[s].committed for s in SERVERS] == [45, 45, 45]
    assert leader(sim) is not None and sim.nodes[leader(sim)].current_epoch == 1


def test_the_phases_come_in_the_papers_order():
    sim = zab_kv(seed=2, clients=1, ops=3)
    sim.run(until=2_000)
    first = {}
    for e in sim.trace.of_kind("send"):
        first.setdefault(type(e.data).__name__, e.time)
    order = ["Vote", "FollowerInfo", "NewEpoch", "AckEpoch", "NewLeader", "AckNewLeader",
             "Proposal"]  # (a follower answers heartbeats with Ack: it comes earlier)
    assert [first[kind] for kind in order] == sorted(first[kind] for kind in order)
    assert first["Commit"] > first["AckNewLeader"]


def test_a_crashed_leader_is_replaced_in_a_later_epoch():
    sim = zab_kv(seed=3, clients=1, ops=30)
    watch(sim, *zab_invariants())
    sim.run(until=400)
    old = leader(sim)
    sim.crash(old)
    sim.run(until=5_000)
    new = leader(sim)
    assert new not in (None, old) and sim.nodes[new].current_epoch == 2
    assert statuses(sim) == Counter(ok=30)
    assert check_linearizability(sim.history, MODEL).ok


def test_a_restarted_follower_keeps_its_history_and_is_synchronised_again():
    sim = zab_kv(seed=4, clients=1, ops=20)
    sim.run(until=300)
    follower = next(s for s in SERVERS if s != leader(sim))
    kept = list(sim.nodes[follower].history)
    sim.crash(follower)
    sim.restart(follower)
    assert sim.nodes[follower].history == kept and sim.nodes[follower].committed == 0
    sim.run(until=3_000)
    assert sim.nodes[follower].history == sim.nodes[leader(sim)].history
    assert sim.nodes[follower].committed == 20


def test_a_follower_refuses_an_epoch_older_than_one_it_accepted():
    sim = zab_kv(seed=1, clients=0)
    sim.run(until=1)
    server = sim.nodes["n2"]
    server.storage.update(accepted_epoch=5, accepted_from="n3")
    server.follow("n1")
    server.on_message("n1", NewEpoch(4))
    assert server.role == "looking" and server.accepted_epoch == 5
    server.follow("n1")
    server.on_message("n1", NewEpoch(5))  # the same epoch, from another leader: no answer
    assert server.accepted_epoch == 5 and server.phase == "discovery"
    server.on_message("n1", NewEpoch(6))
    assert server.accepted_epoch == 6 and server.phase == "synchronisation"


@pytest.mark.parametrize("seed", range(4))
def test_every_fault_at_once_keeps_the_invariants_and_linearizability(seed):
    nemesis = Nemesis(200, nodes=["n1", "n2", "n3", "n4", "n5"], max_crashed=2, loss=0.2,
                      duplicate=0.2, reorder=0.3, stop=5_000)
    sim = zab_kv(seed=seed, n=5, clients=3, ops=25, nemesis=nemesis, timeout=(100, 200),
                 heartbeat_interval=30)
    watch(sim, *zab_invariants())
    sim.run(until=15_000)
    assert statuses(sim) == Counter(ok=75)
    assert check_linearizability(sim.history, MODEL).ok
    assert any(e.kind == "crash" for e in sim.trace)


def test_random_fault_schedules_keep_the_invariants():
    runs = [zab_safety_run(seed=seed, until=1_500) for seed in range(6)]
    assert [r.violated for r in runs] == [None] * 6
    assert max(r.epochs for r in runs) > 1 and min(r.delivered for r in runs) > 0


class Frozen(Node):
    """A server whose variables are set from outside: a state to check."""

    def __init__(self, **state):
        self.__dict__.update(state)


def test_the_zxid_order_invariant_rejects_a_history_out_of_order():
    sim = Simulation(seed=1)
    sim.add_node(Frozen, "a", history=[Txn((1, 1), "x"), Txn((2, 1), "y")])
    check_now(sim, zxids_increase())
    sim.nodes["a"].history.append(Txn((1, 2), "z"))
    with pytest.raises(InvariantViolation, match="after Txn"):
        check_now(sim, zxids_increase())


# -- the mistake (distlab.consensus.zab.bugs), on a scripted run -------------------------------

def test_discovery_gives_a_leader_without_the_committed_history_the_latest_one():
    sim = forced_leader(node_class=ZabServer)
    assert leader(sim) == "n3" and sim.nodes["n3"].current_epoch == 2
    assert sim.nodes["n3"].committed == 5


def test_a_leader_that_keeps_its_own_history_is_caught():
    with pytest.raises(InvariantViolation) as caught:
        forced_leader(node_class=bugs.KeepsOwnHistory)
    assert caught.value.invariant == "leaders of later epochs have every committed transaction"


# -- bad configurations -------------------------------------------------------------------------

def test_bad_configurations_are_refused_with_a_message():
    with pytest.raises(ConfigurationError, match="at least 3"):
        zab_kv(n=1)
    sim = Simulation(seed=1)
    sim.add_nodes(ZabServer, ["a", "b"])
    with pytest.raises(NodeError, match="Zab needs at least 3 servers"):
        sim.run(until=1)
    with pytest.raises(ValueError, match="timeout must be a range"):
        zab_kv(timeout=(10, 5))
    with pytest.raises(ValueError, match="heartbeat_interval"):
        zab_kv(timeout=(100, 200), heartbeat_interval=100)
    with pytest.raises(ValueError, match="finalize_wait"):
        zab_kv(finalize_wait=-1)
