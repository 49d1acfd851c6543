"""Tests of distlab.membership.swim: detection, suspicion and refutation, dissemination,
join, restart, and the cost per member as the group grows."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from distlab.membership.messages import ALIVE, DEAD, SUSPECT, Update
from distlab.membership.runs import swim_false_positives, swim_run, swim_scaling
from distlab.membership.swim import SwimMember, overrides
from distlab.sim import Network, Simulation, Uniform


def test_precedence_higher_incarnation_wins_then_dead_suspect_alive():
    assert overrides((ALIVE, 2), (SUSPECT, 1)) and overrides((ALIVE, 2), (DEAD, 1))
    assert not overrides((ALIVE, 1), (SUSPECT, 1))
    assert overrides((SUSPECT, 1), (ALIVE, 1)) and not overrides((SUSPECT, 0), (ALIVE, 1))
    assert overrides((DEAD, 1), (SUSPECT, 1)) and not overrides((DEAD, 0), (ALIVE, 1))
    assert not overrides((DEAD, 1), (DEAD, 1))


def test_a_crash_is_suspected_then_known_dead_by_every_live_member():
    run = swim_run(20, 1, crashes={"n05": 1_000})
    first, last = run.detection("n05")
    assert 0 < run.first_suspected("n05") < first < last < 3_000
    assert all(m.state_of("n05")[0] == DEAD for i, m in run.sim.nodes.items() if i != "n05")
    assert run.wrongly("suspect") == run.wrongly("dead") == 0


def test_a_cut_link_is_routed_around_by_ping_req():
    sim = Simulation(seed=2, network=Network(latency=Uniform(1, 10)))
    sim.add_nodes(SwimMember, [f"n{i}" for i in range(8)])
    sim.cut("n0", "n1")
    sim.run(until=20_000)
    assert not [e for e in sim.trace.notes() if e.data.what == "suspect"]
    sim2 = Simulation(seed=2, network=Network(latency=Uniform(1, 10)))
    sim2.add_nodes(SwimMember, [f"n{i}" for i in range(8)], k=0)
    sim2.cut("n0", "n1")
    sim2.run(until=20_000)
    assert {e.data["member"] for e in sim2.trace.notes() if e.data.what == "suspect"} == {
        "n0", "n1"}


def test_a_slow_member_refutes_its_suspicion_with_a_new_incarnation():
    sim = Simulation(seed=3, network=Network(latency=Uniform(1, 10)))
    sim.add_nodes(SwimMember, [f"n{i}" for i in range(10)])

    def slow(latency):   # its round trips take 120-240 ms: longer than the ping timeout
        for other in sim.nodes:
            if other != "n3":
                sim.network.set_link("n3", other, latency=latency)

    sim.at(1_000, slow, Uniform(60, 120))
    sim.at(4_000, slow, None)
    sim.run(until=10_000)
    notes = sim.trace.notes()
    assert any(e.data.what == "suspect" and e.data["member"] == "n3" for e in notes)
    assert any(e.data.what == "refute" and e.node == "n3" for e in notes)
    assert not any(e.data.what == "dead" for e in notes)
    assert sim.nodes["n3"].incarnation > 0


def test_without_suspicion_loss_declares_live_members_dead():
    without = swim_run(30, 1, loss=0.1, suspicion=False, trace="summary")
    with_suspicion = swim_run(30, 1, loss=0.1, trace="summary")
    assert without.wrongly("dead") > 3 * max(1, with_suspicion.wrongly("dead"))


def test_news_is_piggybacked_within_bounds():
    run = swim_run(30, 4, crashes={"n03": 500, "n17": 600, "n21": 700})
    for event in run.sim.trace.of_kind("send"):
        assert len(getattr(event.data, "updates", ())) <= 6
    assert all(not m.news for i, m in run.sim.nodes.items() if i not in run.crashes)


def test_a_new_member_joins_through_a_contact_and_everyone_learns_of_it():
    sim = Simulation(seed=5, network=Network(latency=Uniform(1, 10)))
    founders = frozenset(f"n{i}" for i in range(8))
    for member in sorted(founders):
        sim.add_node(SwimMember, member, members=founders)
    sim.add_node(SwimMember, "newcomer", contact="n4")
    sim.run(until=5_000)
    assert all(m.state_of("newcomer") == (ALIVE, 0) for i, m in sim.nodes.items()
               if i != "newcomer")
    assert sorted(sim.nodes["newcomer"].known_members()) == sorted(founders)


def test_a_restarted_member_comes_back_newer_than_its_death():
    sim = Simulation(seed=6, network=Network(latency=Uniform(1, 10)))
    sim.add_nodes(SwimMember, [f"n{i}" for i in range(8)])
    sim.at(500, sim.crash, "n2")
    sim.at(6_000, sim.restart, "n2")
    sim.run(until=5_900)
    assert sim.nodes["n0"].state_of("n2") == (DEAD, 0)
    sim.run(until=12_000)
    assert all(m.state_of("n2")[0] == ALIVE and m.state_of("n2")[1] >= 1
               for i, m in sim.nodes.items() if i != "n2")


def test_settings_are_checked():
    sim = Simulation(seed=1)
    with pytest.raises(ValueError, match="ping_timeout must be positive and shorter"):
        sim.add_node(SwimMember, "a", ping_timeout=500)


def test_load_per_member_stays_constant_as_the_group_grows():
    small, large = swim_scaling([20, 400], duration=6_000)
    assert 1.8 < small.load < 2.2 and 1.8 < large.load < 2.2
    assert small.first_dead < small.all_dead < large.all_dead


def test_same_seed_same_run():
    a = swim_run(20, 9, crashes={"n01": 800}, loss=0.05)
    b = swim_run(20, 9, crashes={"n01": 800}, loss=0.05)
    assert a.notes == b.notes and a.sim.trace.counts() == b.sim.trace.counts()


def test_an_update_is_a_small_immutable_value():
    assert Update("a", SUSPECT, 1) == Update("a", SUSPECT, 1)


def test_a_group_given_as_a_set_runs_the_same_whatever_the_hash_seed():
    # a frozenset of names iterates in an order that depends on PYTHONHASHSEED
    script = textwrap.dedent("""
        from distlab.membership.swim import SwimMember
        from distlab.sim import Simulation
        sim = Simulation(seed=5)
        founders = frozenset(f"n{i}" for i in range(12))
        sim.add_nodes(SwimMember, sorted(founders), members=founders)
        sim.add_node(SwimMember, "newcomer", contact="n7")
        sim.run(until=2_000)
        print(sim.trace.counts(), [(e.time, e.node) for e in sim.trace.of_kind("send")][-5:])
    """)
    outputs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2", "3")}
    assert len(outputs) == 1, outputs


def test_false_positive_counts_compare_with_and_without_suspicion():
    off, on = swim_false_positives([0.2], seeds=range(2), n=12, duration=5_000)
    assert (off.suspicion, on.suspicion) == (False, True)
    assert off.suspected == 0 and on.suspected > 0      # without suspicion nobody is suspect
    assert off.declared_dead > on.declared_dead
