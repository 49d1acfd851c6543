"""Tests of distlab.consensus.vr: Viewstamped Replication (Revisited) replicating a key-value
store.

The normal case answers every client with one Prepare and one PrepareOK per backup; a
crashed primary is replaced by the next replica in the round robin; a replica that crashed
(losing its memory) recovers its state from the others before it takes part again, and
ignores answers to an earlier recovery; a backup that missed Prepares catches up by state
transfer; runs under every fault keep VR's invariants and give linearizable histories; each
mistake of `distlab.consensus.vr.bugs` is caught by the invariants on a scripted run where
the reference stays safe; bad configurations are refused with a message.
"""

from __future__ import annotations

from collections import Counter

import pytest

from distlab.check import InvariantViolation, check_linearizability, watch
from distlab.consensus.vr import bugs
from distlab.consensus.vr.invariants import vr_invariants
from distlab.consensus.vr.messages import Prepare, PrepareOK, RecoveryResponse
from distlab.consensus.vr.replica import VRReplica
from distlab.consensus.vr.runs import (amnesia, primary, stale_log, view_change, vr_kv,
                                       vr_safety_run)
from distlab.sim import ConfigurationError, Nemesis, NodeError, Simulation
from distlab.workloads.kv import MODEL

REPLICAS = ["n1", "n2", "n3"]


def statuses(sim: Simulation) -> Counter:
    return Counter(op.status for op in sim.history.operations)


def test_the_normal_case_answers_every_client_and_the_replicas_agree():
    sim = vr_kv(seed=1, clients=3, ops=15)
    watch(sim, *vr_invariants())
    sim.run(until=5_000)
    assert statuses(sim) == Counter(ok=45)
    assert check_linearizability(sim.history, MODEL).ok
    assert primary(sim) == "n1"  # the primary of view 0, and nobody replaced it
    data = [sim.nodes[r].machine.data for r in REPLICAS]
    assert data[0] == data[1] == data[2] and data[0]
    assert [sim.nodes[r].commit_number for r in REPLICAS] == [45, 45, 45]


def test_each_command_costs_one_prepare_and_one_prepare_ok_per_backup():
    sim = vr_kv(seed=2, clients=1, ops=20)
    sim.run(until=3_000)
    sent = Counter(type(e.data).__name__ for e in sim.trace.of_kind("send"))
    assert sent["Prepare"] == 2 * 20 and sent["PrepareOK"] == 2 * 20


def test_a_crashed_primary_is_replaced_by_the_next_replica_of_the_round_robin():
    sim = view_change(seed=1, crash_at=300.0)
    assert statuses(sim) == Counter(ok=12)
    assert check_linearizability(sim.history, MODEL).ok
    assert primary(sim) == "n2" and sim.nodes["n2"].view_number == 1
    assert sim.nodes["n3"].role == "backup" and sim.nodes["n3"].view_number == 1
    kinds = {type(e.data).__name__ for e in sim.trace.of_kind("send") if e.time > 300}
    assert {"StartViewChange", "DoViewChange", "StartView"} <= kinds


def test_a_restarted_replica_recovers_its_state_before_it_takes_part():
    sim = amnesia(seed=1)  # the invariants are watched: it raises on a violation
    notes = [(e.node, e.data.what) for e in sim.trace.of_kind("note")]
    assert ("n2", "recovering") in notes and ("n2", "recovered") in notes
    assert statuses(sim) == Counter(ok=8)
    assert sim.nodes["n2"].role == "primary"  # (n1 crashed at 1,200 ms: n2 took over)
    assert sim.nodes["n2"].commit_number == 8 and set(sim.nodes["n2"].storage) == {"started"}


def test_a_recovering_replica_ignores_an_answer_to_an_earlier_attempt():
    sim = vr_kv(seed=1, clients=1, ops=5)
    sim.run(until=500)
    sim.crash("n3")
    sim.restart("n3")
    sim.run(until=sim.now)  # (its on_start: it is recovering now)
    node = sim.nodes["n3"]
    assert node.status == "recovering"
    for sender in ("n1", "n2"):
        node.on_message(sender, RecoveryResponse(0, node.nonce + 1, (), 0, 0, sender))
    assert node.status == "recovering" and node.responses == {}


def test_a_backup_that_missed_prepares_catches_up_by_state_transfer():
    sim = vr_kv(seed=3, clients=1, ops=20)
    sim.at(1, sim.partition, {"n3"})
    sim.run(until=120)  # (shorter than its timeout: it does not start a view change)
    assert sim.nodes["n3"].op_number == 0 and sim.nodes["n1"].commit_number >= 3
    sim.heal()
    sim.run(until=3_000)
    assert sim.nodes["n3"].log == sim.nodes["n1"].log and sim.nodes["n3"].view_number == 0
    assert any(type(e.data).__name__ == "NewState" for e in sim.trace.of_kind("deliver")
               if e.node == "n3")


def test_a_repeated_prepare_is_acknowledged_again_and_appended_once():
    sim = vr_kv(seed=1, clients=0)
    sim.run(until=1)
    backup = sim.nodes["n2"]
    prepare = Prepare(0, "op", 1, 0)
    backup.on_message("n1", prepare)
    backup.on_message("n1", prepare)
    assert backup.log == ["op"]
    acks = [e.data for e in sim.trace.of_kind("send") if e.node == "n2"]
    assert acks == [PrepareOK(0, 1, "n2"), PrepareOK(0, 1, "n2")]


@pytest.mark.parametrize("seed", range(4))
def test_every_fault_at_once_keeps_the_invariants_and_linearizability(seed):
    nemesis = Nemesis(200, nodes=["n1", "n2", "n3", "n4", "n5"], max_crashed=1, loss=0.2,
                      duplicate=0.2, reorder=0.3, stop=5_000)
    sim = vr_kv(seed=seed, n=5, clients=3, ops=25, nemesis=nemesis, timeout=(100, 200),
                commit_interval=30)
    watch(sim, *vr_invariants())
    sim.run(until=15_000)
    assert statuses(sim) == Counter(ok=75)
    assert check_linearizability(sim.history, MODEL).ok
    assert any(e.kind == "crash" for e in sim.trace)


def test_random_fault_schedules_keep_the_invariants():
    runs = [vr_safety_run(seed=seed, until=1_500) for seed in range(6)]
    assert [r.violated for r in runs] == [None] * 6
    assert max(r.views for r in runs) > 0 and min(r.committed for r in runs) > 0


# -- the mistakes (distlab.consensus.vr.bugs), each on a scripted run ---------------------------

def test_the_view_change_keeps_the_log_of_the_latest_normal_view():
    sim = stale_log(node_class=VRReplica)
    assert sim.nodes["n3"].role == "primary" and sim.nodes["n3"].view_number == 2
    assert sim.nodes["n3"].log[0].client == "c4"  # committed in view 1: kept


def test_a_new_primary_that_picks_the_longest_log_is_caught():
    with pytest.raises(InvariantViolation) as caught:
        stale_log(node_class=bugs.PicksLongestLog)
    assert caught.value.invariant == "primaries of later views have every committed op"


def test_a_replica_that_skips_recovery_is_caught_losing_committed_ops():
    with pytest.raises(InvariantViolation) as caught:
        amnesia(node_class=bugs.SkipsRecovery, primary_crash_at=455.0)
    assert caught.value.invariant == "primaries of later views have every committed op"


def test_with_more_than_f_failures_recovery_waits_instead_of_losing_ops():
    sim = amnesia(node_class=VRReplica, primary_crash_at=455.0)  # n1 down, n2 amnesic
    assert sim.nodes["n2"].status == "recovering" and primary(sim) is None


# -- bad configurations -------------------------------------------------------------------------

def test_bad_configurations_are_refused_with_a_message():
    with pytest.raises(ConfigurationError, match="at least 3"):
        vr_kv(n=2)
    sim = Simulation(seed=1)
    sim.add_nodes(VRReplica, ["a", "b"])
    with pytest.raises(NodeError, match="needs at least 3 replicas"):
        sim.run(until=1)
    with pytest.raises(ValueError, match="timeout must be a range"):
        vr_kv(timeout=(0, 10))
    with pytest.raises(ValueError, match="commit_interval"):
        vr_kv(timeout=(100, 200), commit_interval=150)
    with pytest.raises(ValueError, match="recovery_retry"):
        vr_kv(recovery_retry=0)
