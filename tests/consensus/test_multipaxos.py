"""Tests of distlab.consensus.multipaxos: a key-value store replicated by Multi-Paxos.

A quiet run answers every client and the replicas agree; runs under crashes, partitions, loss,
duplication and reordering keep one value per slot and replicas that agree at every event and
give linearizable histories; a new leader recovers the slots in flight and fills the gaps
with no-ops; a deposed leader steps down; a restarted server rebuilds its state from its
durable log; a command costs one round trip with a stable leader and two when phase 1 runs for
every command; each bug of `distlab.consensus.multipaxos.bugs` is caught by the invariants;
bad configurations are refused with a message that says what to do.
"""

from __future__ import annotations

import pytest

from distlab.check import check_linearizability
from distlab.check.invariants import InvariantViolation, check_now, watch
from distlab.consensus.multipaxos.bugs import NoOpFillingLeader, SkipsPhase1Leader
from distlab.consensus.multipaxos.invariants import (multipaxos_invariants, one_value_per_slot,
                                                     replicas_agree)
from distlab.consensus.multipaxos.messages import (NOOP, Accept, Accepted, Preempted, Prepare,
                                                   Promise)
from distlab.consensus.multipaxos.nodes import MultiPaxosServer, PaxosPerCommand
from distlab.consensus.multipaxos.runs import (SERVERS, cost_per_command, leader_change, leader_of,
                                               multipaxos_kv, safety_run)
from distlab.sim import Client, Constant, Nemesis, Network, Simulation
from distlab.workloads.kv import MODEL, Append, Put

SERVERS5 = ["n1", "n2", "n3", "n4", "n5"]


def test_a_quiet_cluster_answers_every_request_and_the_replicas_agree():
    sim = multipaxos_kv(seed=1, n=3, clients=3, ops=20)
    watch(sim, *multipaxos_invariants())
    sim.run(until=10_000)
    ops = sim.history.operations
    assert len(ops) == 60 and all(op.status == "ok" for op in ops)
    assert check_linearizability(sim.history, MODEL).ok
    logs = [sim.nodes[i].log for i in SERVERS]
    assert logs[0] == logs[1] == logs[2] and len(logs[0]) >= 60
    data = [sim.nodes[i].machine.data for i in SERVERS]
    assert data[0] == data[1] == data[2] and data[0]


@pytest.mark.parametrize("seed", range(4))
def test_every_fault_at_once_keeps_safety_and_linearizability(seed):
    nemesis = Nemesis(150, nodes=SERVERS5, max_crashed=2, loss=0.2, duplicate=0.2,
                      reorder=0.3, stop=4_000)
    sim = multipaxos_kv(seed=seed, n=5, clients=3, ops=25, nemesis=nemesis,
                        election_timeout=(60.0, 120.0), heartbeat_interval=20.0, retry=60.0)
    watch(sim, *multipaxos_invariants())
    sim.run(until=15_000)
    ops = sim.history.operations
    assert sim.trace.of_kind("crash") and sim.trace.of_kind("partition")
    assert len(ops) == 75 and all(op.status == "ok" for op in ops)  # all done once calm
    assert check_linearizability(sim.history, MODEL).ok
    leaders = [e for e in sim.trace.of_kind("note") if e.data.what == "leader"]
    assert len(leaders) >= 2  # the faults made the leader change


def test_random_fault_schedules_never_break_the_invariants_nor_linearizability():
    runs = [safety_run(seed=seed, until=2_000) for seed in range(12)]
    assert all(run.violated is None for run in runs), [r for r in runs if r.violated]
    assert all(run.linearizable for run in runs)
    assert sum(run.leaders for run in runs) > 2 * len(runs)  # leaders did change
    assert min(run.decided for run in runs) >= 90  # and every operation was decided


def test_a_new_leader_recovers_the_slots_in_flight_and_fills_the_gaps_with_no_ops():
    run = leader_change()
    assert run.violation is None
    captions = [caption for caption, _ in run.steps]
    assert [c[:3] for c in captions] == ["(a)", "(b)", "(c)", "(d)"]
    crashed = {view.id: view for view in run.steps[1][1]}
    assert crashed["n1"].accepted[2][1] == Put("c2", 1, "x", "b")  # slot 2: n1 only
    assert 2 not in crashed["n2"].accepted and 2 not in crashed["n3"].accepted
    assert crashed["n2"].accepted[3][1] == Append("c1", 2, "y", "c")  # slot 3: chosen
    sim = run.sim
    prepares = [e for e in sim.trace.of_kind("send")
                if isinstance(e.data, Prepare) and e.node == "n2"]
    assert {e.data.first_slot for e in prepares} == {2}  # one Prepare for every slot from 2
    promise = next(e.data for e in sim.trace.of_kind("deliver")
                   if isinstance(e.data, Promise) and e.node == "n2")
    assert [(slot, command) for slot, _, command in promise.accepted] == [
        (3, Append("c1", 2, "y", "c"))]
    after = {view.id: view.cells() for view in run.steps[2][1]}
    assert after["n2"] == after["n3"] == {1: ("put x=a", "decided", None),
                                          2: ("no-op", "decided", None),
                                          3: ("append y=c", "decided", None)}
    assert after["n1"][2] == ("put x=b", "accepted", "1,n1")  # (down, with its proposals)
    expected = [Put("c1", 1, "x", "a"), NOOP, Append("c1", 2, "y", "c"),
                Put("c2", 1, "x", "b")]
    assert all(sim.nodes[i].log == expected for i in SERVERS)
    assert sim.nodes["n1"].accepted == {}  # the restarted n1's put x=b in slot 2 is gone
    assert all(sim.nodes[i].machine.data == {"x": "b", "y": "c"} for i in SERVERS)


def test_a_leader_that_fills_every_slot_with_a_no_op_is_caught():
    run = leader_change(NoOpFillingLeader)
    assert run.violation is not None
    assert run.violation.invariant == "one value is chosen per slot"
    assert run.violation.explanation.startswith(
        "slot 3: Append(client='c1', msg_id=2, key='y', value='c') was chosen (a majority "
        "accepted it in ballot (1, 'n1')), and then NOOP")
    caught = [r for seed in range(10) if (r := safety_run(NoOpFillingLeader, seed=seed)).violated]
    assert caught and {r.violated for r in caught} == {"one value is chosen per slot"}


def test_a_leader_that_skips_phase_1_is_caught_under_random_faults():
    caught = [r for seed in range(8) if (r := safety_run(SkipsPhase1Leader, seed=seed)).violated]
    assert len(caught) >= 2
    assert all(r.violated in ("one value is chosen per slot",
                              "replicas apply the same command in each slot") for r in caught)


def test_a_stable_leader_saves_phase_1_one_round_trip_and_four_in_ten_messages():
    for n in (3, 5):
        multi = cost_per_command(MultiPaxosServer, n=n)
        per_command = cost_per_command(PaxosPerCommand, n=n)
        assert multi.round_trips == pytest.approx(1.0)
        assert per_command.round_trips == pytest.approx(2.0)
        assert multi.messages == {"Accept": n - 1, "Accepted": n - 1, "Decide": n - 1}
        assert per_command.messages == {kind: n - 1 for kind in (
            "Prepare", "Promise", "Accept", "Accepted", "Decide")}
        assert multi.total == 3 * (n - 1) and per_command.total == 5 * (n - 1)


def test_phase_1_for_every_command_is_as_safe_only_slower():
    runs = [safety_run(PaxosPerCommand, seed=seed, until=2_000) for seed in range(3)]
    assert all(run.violated is None and run.linearizable for run in runs)
    assert all(run.leaders > 20 for run in runs)  # a phase 1 (a "leader") per command


def test_a_deposed_leader_steps_down_when_it_hears_a_higher_ballot():
    sim = multipaxos_kv(seed=2, n=3, clients=1, ops=30)
    watch(sim, *multipaxos_invariants())
    assert sim.run_until(lambda: leader_of(sim) is not None, timeout=2_000)
    old = leader_of(sim)
    others = [s for s in SERVERS if s != old]
    sim.partition({old}, {*others, "c1"})
    assert sim.run_until(lambda: leader_of(sim) in others, timeout=2_000)
    assert sim.nodes[old].role == "leader"  # cut off, it does not know yet
    sim.heal()
    sim.run(until=sim.now + 300)
    assert sim.nodes[old].role == "follower"
    assert sim.nodes[old].leader_id == leader_of(sim)
    sim.run(until=10_000)
    assert all(op.status == "ok" for op in sim.history.operations)
    assert check_linearizability(sim.history, MODEL).ok


def test_a_restarted_cluster_rebuilds_its_state_from_the_durable_log():
    sim = multipaxos_kv(seed=3, n=3, clients=2, ops=10)
    sim.run(until=3_000)
    before = dict(sim.nodes["n1"].machine.data)
    assert before
    for server in SERVERS:
        sim.crash(server)
    for server in SERVERS:
        sim.restart(server)
    sim.run(until=sim.now + 1)
    assert all(sim.nodes[s].machine.data == before for s in SERVERS)
    assert all(sim.nodes[s].role == "follower" for s in SERVERS)
    sim.run(until=sim.now + 1_000)
    assert leader_of(sim) is not None


def test_the_acceptor_refuses_lower_ballots_and_reports_from_the_first_slot_asked():
    sim = Simulation(seed=0, network=Network(latency=Constant(1.0)))
    sim.add_nodes(MultiPaxosServer, SERVERS, election_timeout=(1e5, 2e5))
    sim.add_node(Client, "p")
    sim.run(until=1)
    acceptor = sim.nodes["n1"]
    acceptor.storage["log"].append(Put("c", 1, "x", "a"))
    acceptor.storage["accepted"][2] = ((1, "n2"), Put("c", 2, "x", "b"))
    acceptor.storage["accepted"][3] = ((1, "n2"), Put("c", 3, "x", "c"))
    proposer = sim.nodes["p"]
    proposer.send("n1", Prepare((2, "n3"), 1))
    proposer.send("n1", Prepare((2, "n2"), 3))  # lower than (2, 'n3'): refused
    proposer.send("n1", Accept((1, "n2"), 4, NOOP))  # lower: refused
    proposer.send("n1", Accept((2, "n3"), 4, NOOP))
    sim.run(until=10)
    replies = [e.data for e in sim.trace.of_kind("deliver") if e.node == "p"]
    assert replies == [
        Promise((2, "n3"), ((1, Put("c", 1, "x", "a")),),
                ((2, (1, "n2"), Put("c", 2, "x", "b")), (3, (1, "n2"), Put("c", 3, "x", "c")))),
        Preempted((2, "n3")), Preempted((2, "n3")), Accepted((2, "n3"), 4)]
    assert acceptor.promised == (2, "n3") and acceptor.accepted[4] == ((2, "n3"), NOOP)


def test_the_invariants_fail_on_states_that_break_them():
    sim = Simulation(seed=0)
    sim.add_nodes(MultiPaxosServer, SERVERS, election_timeout=(1e5, 2e5))
    sim.run(until=1)
    agree, one_value = replicas_agree(), one_value_per_slot()
    sim.nodes["n1"].log.extend([Put("c", 1, "x", "a"), NOOP])
    sim.nodes["n2"].log.extend([Put("c", 1, "x", "a")])
    check_now(sim, agree, one_value)  # a prefix: fine
    sim.nodes["n3"].log.extend([Put("c", 1, "x", "a"), Put("c", 2, "x", "b")])
    with pytest.raises(InvariantViolation, match=r"slot 2: 'n1' applied NOOP, but 'n3' "
                                                 r"applied Put\(client='c', msg_id=2"):
        check_now(sim, agree)
    with pytest.raises(InvariantViolation, match=r"slot 2: NOOP was chosen \('n1' decided it\)"):
        check_now(sim, one_value)
    sim.nodes["n2"].log.clear()
    with pytest.raises(InvariantViolation, match="'n2' had 1 decided slots and now has 0"):
        check_now(sim, agree)
    sim.nodes["n3"].log[1:] = []
    fresh = one_value_per_slot()
    for server in ("n1", "n2"):
        sim.nodes[server].accepted[5] = ((3, "n1"), Put("c", 5, "y", "z"))
    sim.nodes["n3"].pending[5] = NOOP
    with pytest.raises(InvariantViolation, match=r"slot 5: .* \(a majority accepted it in "
                                                 r"ballot \(3, 'n1'\)\), and then NOOP"):
        check_now(sim, fresh)


def test_bad_configurations_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="election_timeout must be a range"):
        multipaxos_kv(election_timeout=(300.0, 100.0))
    with pytest.raises(ValueError, match=r"heartbeat_interval \(200.0\) must be positive and "
                                         r"shorter than the election timeout"):
        multipaxos_kv(heartbeat_interval=200.0)
    with pytest.raises(ValueError, match="batch is how many decided slots"):
        multipaxos_kv(batch=0)
    with pytest.raises(ValueError, match="needs at least 3 servers to survive a failure"):
        multipaxos_kv(n=0)
    with pytest.raises(ValueError, match="the nemesis must spare the clients"):
        multipaxos_kv(nemesis=Nemesis(100))
    with pytest.raises(RuntimeError, match="ops must be at least 2"):
        cost_per_command(ops=1)
