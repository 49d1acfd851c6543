"""Tests of distlab.consensus.raft.node: the whole Raft replicating a key-value store.

A quiet run answers every client; runs under crashes, partitions, loss, duplication and
reordering keep Election Safety, Log Matching and State Machine Safety at every event and give
linearizable histories; snapshots replace the log and catch up a lagging follower; a follower
far behind on a long divergent log is brought back in a few round trips per term, not one per
entry; and each classic mistake of `distlab.consensus.raft.bugs` is shown wrong on a scripted
situation where the reference does the right thing.
"""

from __future__ import annotations

import pytest

from distlab.check import check_linearizability
from distlab.check.invariants import watch
from distlab.consensus.raft import bugs
from distlab.consensus.raft.invariants import (at_most_one_leader_per_term, log_matching,
                                               logs_agree_up_to_commit)
from distlab.consensus.raft.messages import AppendEntries, AppendEntriesReply, Entry, RequestVote
from distlab.consensus.raft.node import RaftNode
from distlab.consensus.raft.runs import add_raft_kv, raft_kv
from distlab.sim import Nemesis, Network, Simulation, Uniform
from distlab.workloads.kv import MODEL

SERVERS5 = ["n1", "n2", "n3", "n4", "n5"]


def safety() -> list:
    """Raft's three safety invariants, for a log that snapshots cut from the front."""
    return [at_most_one_leader_per_term(), log_matching(first_index="log_start"),
            logs_agree_up_to_commit(first_index="log_start")]


def leader(sim: Simulation) -> str | None:
    leaders = [i for i, n in sim.nodes.items()
               if sim.is_up(i) and getattr(n, "role", None) == "leader"]
    return max(leaders, key=lambda i: sim.nodes[i].term, default=None)


def test_a_quiet_cluster_answers_every_request_and_the_replicas_agree():
    sim = raft_kv(seed=1, n=3, clients=3, ops=20)
    watch(sim, *safety())
    sim.run(until=10_000)
    ops = sim.history.operations
    assert len(ops) == 60 and all(op.status == "ok" for op in ops)
    assert check_linearizability(sim.history, MODEL).ok
    data = [sim.nodes[i].machine.data for i in ("n1", "n2", "n3")]
    assert data[0] == data[1] == data[2] and data[0]


@pytest.mark.parametrize("seed", range(4))
def test_every_fault_at_once_keeps_safety_and_linearizability(seed):
    nemesis = Nemesis(200, nodes=SERVERS5, max_crashed=2, loss=0.2, duplicate=0.2,
                      reorder=0.3, stop=6_000)
    sim = raft_kv(seed=seed, n=5, clients=3, ops=25, nemesis=nemesis, snapshot_every=8,
                  election_timeout=(100, 200), heartbeat_interval=30)
    watch(sim, *safety())
    sim.run(until=20_000)
    ops = sim.history.operations
    assert sim.trace.of_kind("crash") and sim.trace.of_kind("partition")
    assert len(ops) == 75 and all(op.status == "ok" for op in ops)  # all done once calm
    assert check_linearizability(sim.history, MODEL).ok


def test_duplicated_replies_do_not_multiply_the_leaders_messages():
    """On a network that delivers every other message twice, a busy leader sends about as
    many messages as on a clean one (each duplicated reply used to start a stream of its own:
    200,000 events in a second)."""
    sent = {}
    for duplicate in (0.0, 0.5):
        sim = Simulation(seed=5, network=Network(latency=Uniform(1, 10), duplicate=duplicate))
        add_raft_kv(sim, n=5, clients=3, ops=100, retry=60.0)
        sim.run(until=3_000, max_events=200_000)
        sent[duplicate] = len(sim.trace.of_kind("send"))
    assert sent[0.5] < 2 * sent[0.0]


def test_a_restarted_server_comes_back_from_its_storage_and_snapshot():
    sim = raft_kv(seed=2, n=3, clients=2, ops=30, snapshot_every=5)
    watch(sim, *safety())
    sim.run(until=1_500)
    victim = next(i for i in ("n1", "n2", "n3") if i != leader(sim))
    before = sim.nodes[victim]
    assert before.snapshot_index > 0
    term, log = before.term, list(before.log)
    sim.crash(victim)
    sim.restart(victim)
    sim.run(until=sim.now)  # its on_start
    after = sim.nodes[victim]
    assert after is not before and after.term == term and list(after.log) == log
    assert after.commit_index == after.snapshot_index and after.machine.data  # from snapshot
    sim.run(until=10_000)
    assert all(op.status == "ok" for op in sim.history.operations)
    assert sim.nodes[victim].machine.data == sim.nodes[leader(sim)].machine.data


def test_a_follower_behind_the_leaders_snapshot_gets_it_whole():
    sim = raft_kv(seed=3, n=3, clients=2, ops=40, snapshot_every=5)
    watch(sim, *safety())
    sim.run(until=300)
    lagging = next(i for i in ("n1", "n2", "n3") if i != leader(sim))
    sim.crash(lagging)
    sim.run(until=3_000)
    assert sim.nodes[leader(sim)].snapshot_index > 10
    sim.restart(lagging)
    sim.run(until=10_000)
    installed = [e for e in sim.trace.of_kind("deliver")
                 if e.node == lagging and type(e.data).__name__ == "InstallSnapshot"]
    assert installed
    assert sim.nodes[lagging].machine.data == sim.nodes[leader(sim)].machine.data
    assert check_linearizability(sim.history, MODEL).ok


def test_fast_backup_skips_a_term_per_round_trip_over_a_long_divergent_log():
    """An old leader cut off with one follower appends 40 entries no majority stores; the
    other five elect a leader that commits 60 of its own, then crashes, and a third leader
    starts with every follower's ``next_index`` past those 60. Healed, the follower's
    divergent suffix is found in two refusals (one for its short log, one for its term),
    where backing up one entry per round trip would take about 40."""
    servers = [f"n{i}" for i in range(1, 8)]
    sim = raft_kv(seed=4, n=7, clients=0)
    sim.run(until=1_000)
    old = leader(sim)
    mate = next(i for i in servers if i != old)
    rest = [i for i in servers if i not in (old, mate)]  # a majority, even with one down
    sim.partition({old, mate}, set(rest))
    for _ in range(40):  # requests that reach the cut-off leader only
        sim.nodes[old].log.append(Entry(sim.nodes[old].term, None))
    sim.run(until=3_000)
    new = leader(sim)
    assert new in rest and len(sim.nodes[mate].log) > 40
    for _ in range(60):
        sim.nodes[new].log.append(Entry(sim.nodes[new].term, None))
    sim.run(until=4_000)
    assert sim.nodes[new].commit_index == sim.nodes[new].last_index() > 60
    sim.crash(new)
    sim.run(until=5_000)
    new = leader(sim)
    assert new in rest and sim.nodes[new].next_index[mate] > 60
    sim.heal()
    healed = len(sim.trace.of_kind("send"))  # the sends below are those after the heal
    sim.run(until=7_000)
    refused = [e for e in sim.trace.of_kind("send")[healed:]
               if e.node == mate and isinstance(e.data, AppendEntriesReply)
               and not e.data.success]
    assert 1 <= len(refused) <= 3
    assert list(sim.nodes[mate].log) == list(sim.nodes[new].log)


def test_bad_options_are_refused_with_a_message():
    sim = Simulation(seed=1)
    with pytest.raises(ValueError, match="heartbeat_interval"):
        sim.add_node(RaftNode, "n1", heartbeat_interval=500)
    with pytest.raises(ValueError, match="snapshot_every"):
        sim.add_node(RaftNode, "n2", snapshot_every=0)
    with pytest.raises(ValueError, match="must spare the clients"):
        raft_kv(nemesis=Nemesis(100))


# -- the classic mistakes (distlab.consensus.raft.bugs), each on a scripted situation ---------

def three(node_class: type[RaftNode] = RaftNode) -> Simulation:
    sim = Simulation(seed=1)
    sim.add_nodes(node_class, ["n1", "n2", "n3"])
    return sim


@pytest.mark.parametrize("node_class, grants", [(RaftNode, False), (bugs.VotesForAnyLog, True)])
def test_a_voter_refuses_a_candidate_whose_log_is_behind_its_own(node_class, grants):
    voter = three(node_class).nodes["n2"]
    voter.storage.update(term=3, log=[Entry(1, None), Entry(2, None)])
    # a candidate of term 3 whose last entry is of term 1: behind the voter's term-2 entry
    assert voter.grants_vote(RequestVote(3, "n1", last_log_index=5, last_log_term=1)) is grants
    assert voter.grants_vote(RequestVote(3, "n1", last_log_index=2, last_log_term=2))


@pytest.mark.parametrize("node_class, commits", [(RaftNode, 0), (bugs.CommitsByCounting, 2)])
def test_an_entry_of_an_earlier_term_is_not_committed_by_counting_replicas(node_class, commits):
    """Figure 8: the leader of term 4 finds its term-2 entry at index 2 on a majority. Were it
    committed, a server with a term-3 entry there could still be elected and overwrite it."""
    leader_node = three(node_class).nodes["n1"]
    leader_node.storage.update(term=4, log=[Entry(1, None), Entry(2, None)])
    leader_node.role = "leader"
    leader_node.next_index, leader_node.match_index = {"n2": 3, "n3": 3}, {"n2": 2, "n3": 0}
    leader_node.advance_commit()
    assert leader_node.commit_index == commits


@pytest.mark.parametrize("node_class, survives",
                         [(RaftNode, True), (bugs.TruncatesBlindly, False)])
def test_a_late_repeated_append_does_not_cut_the_log_short(node_class, survives):
    log = [Entry(1, None), Entry(1, "a"), Entry(1, "b")]
    follower = three(node_class).nodes["n2"]
    follower.storage.update(term=1, log=list(log))
    follower.on_message("n1", AppendEntries(1, "n1", 1, 1, (Entry(1, "a"),), 0))
    assert (list(follower.log) == log) is survives  # the third entry, acknowledged before


@pytest.mark.parametrize("node_class, second_vote", [(RaftNode, False), (bugs.ForgetsVote, True)])
def test_a_restarted_server_does_not_vote_twice_in_a_term(node_class, second_vote):
    sim = three(node_class)
    sim.run(until=1)
    sim.nodes["n2"].on_message("n1", RequestVote(5, "n1"))
    assert sim.nodes["n2"].voted_for == "n1"
    sim.crash("n2")
    sim.restart("n2")
    sim.run(until=sim.now)
    assert sim.nodes["n2"].grants_vote(RequestVote(5, "n3")) is second_vote


def test_a_message_prints_only_the_fields_that_differ_from_their_defaults():
    assert repr(AppendEntries(3, "n1")) == "AppendEntries(term=3, leader_id='n1')"
    assert repr(AppendEntriesReply(2, False, conflict_index=4)) == (
        "AppendEntriesReply(term=2, success=False, conflict_index=4)")
