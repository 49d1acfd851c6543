"""Tests of distlab.consensus.comparison: Raft, VR and Zab measured on one cluster and one
workload.

Without faults a command costs what each protocol's normal case sends (two messages per
follower for Raft and VR, three for Zab), and a client waits about one round trip to the
leader and one from it to its followers; a crashed leader is replaced within a few election
timeouts; single-decree Paxos decides one value with four messages per acceptor; a new
protocol joins the comparison as one `Contender`.
"""

from __future__ import annotations

import pytest

from distlab.consensus.comparison import (CONTENDERS, Contender, leader_change, paxos_decision,
                                          steady_state)
from distlab.consensus.raft.node import RaftNode


def test_the_normal_case_costs_what_each_protocol_sends_per_command():
    vr = steady_state(CONTENDERS["VR"], seeds=range(3), ops=20)
    assert vr.kinds == {"Prepare": 2.0, "PrepareOK": 2.0} and vr.commands == 3 * 15
    raft = steady_state(CONTENDERS["Raft"], seeds=range(3), ops=20)
    assert raft.kinds["AppendEntries"] >= 2.0 and raft.kinds["AppendEntriesReply"] >= 2.0
    assert raft.messages_per_command < 5.0
    zab = steady_state(CONTENDERS["Zab"], seeds=range(3), ops=20)
    assert {zab.kinds[k] for k in ("Proposal", "Commit")} == {2.0}
    assert zab.kinds["Ack"] >= 2.0 and zab.messages_per_command > vr.messages_per_command
    for result in (vr, raft, zab):  # two client hops, a round trip: 2 to 40 ms
        assert 2 <= min(result.delays) and max(result.delays) <= 40


@pytest.mark.parametrize("name", sorted(CONTENDERS))
def test_a_crashed_leader_is_replaced_within_a_few_timeouts(name):
    change = leader_change(CONTENDERS[name], seeds=range(3))
    assert change.runs == 3
    assert all(150 <= t <= 1_500 for t in change.times)  # at least one timeout
    assert change.client_wait >= change.time_to_leader and change.messages > 0


def test_single_decree_paxos_sends_four_messages_per_acceptor():
    decision = paxos_decision(seeds=range(3), acceptors=3)
    assert decision.messages == 12 and 4 <= decision.delay <= 40


def test_a_protocol_joins_the_comparison_as_one_contender():
    eager = Contender("Raft, fast heartbeats", RaftNode, lambda n: n.role == "leader",
                      dict(election_timeout=(150.0, 300.0), heartbeat_interval=10.0))
    result = steady_state(eager, seeds=range(2), ops=10)
    assert result.protocol == "Raft, fast heartbeats" and result.commands == 2 * 5
