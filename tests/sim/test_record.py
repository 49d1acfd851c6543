"""Tests of the kernel's record per node (distlab.sim.record): a timer's entry carries the
node's record, so that firing it looks nothing up by id; restarts, crashes and timers set
from outside a handler keep their meaning."""

from __future__ import annotations

import pytest

from distlab.sim import Node, Simulation
from distlab.sim.record import NodeRecord, timer_identity


class Rearm(Node):
    """Re-arms its timer every 10 ms, and counts how often it fired."""

    def __init__(self) -> None:
        self.fired = 0

    def on_start(self) -> None:
        self.set_timer(10, "tick")

    def on_timer(self, name: str) -> None:
        self.fired += 1
        self.set_timer(10, "tick")


class NoLookups(dict):
    """A dict of a simulation (``nodes``, ``_records``) that refuses lookups by id."""

    def __getitem__(self, key):
        raise AssertionError(f"looked up {key!r} by id")

    get = __contains__ = __getitem__


def pending_timer(sim: Simulation, node_id: str, name: str) -> tuple:
    """The token of the pending entry of ``node_id``'s timer ``name``."""
    [token] = [entry[3] for entry in sim.scheduler.pending()
               if sim.entry_kind(entry) == "timer" and sim.is_live(entry)
               and timer_identity(entry[3]) == (node_id, name)]
    return token


def test_a_timers_entry_carries_the_record_of_its_node():
    sim = Simulation(seed=1)
    sim.add_nodes(Rearm, ["a", "b"])
    sim.run(until=5)
    record, name = token = pending_timer(sim, "a", "tick")
    assert type(record) is NodeRecord and record is sim._records["a"]
    assert record.node is sim.nodes["a"] and name == "tick"
    assert record.timers == {"tick": token} and record.timers["tick"] is token
    assert timer_identity(token) == ("a", "tick")
    assert sim.describe_entry(next(e for e in sim.scheduler.pending() if e[3] is token)) == \
        ("a", "on_timer('tick')")


def test_firing_timers_looks_up_no_node_by_id():
    sim = Simulation(seed=1)
    sim.add_nodes(Rearm, ["a", "b", "c"])
    sim.run(until=5)  # started: from now on, only timers fire and are set again
    nodes = sim.nodes
    sim.nodes, sim._records = NoLookups(sim.nodes), NoLookups(sim._records)
    sim.run(until=1_000)
    assert [node.fired for node in nodes.values()] == [100, 100, 100]


def test_a_timer_set_from_outside_a_handler_is_the_nodes_own():
    sim = Simulation(seed=1)
    a, b = sim.add_nodes(Rearm, ["a", "b"])
    sim.run(until=15)                     # b's timer fired last: its record is at hand
    a.set_timer(1, "poke")                # set by test code, not by a handler of a
    sim.at(16, b.set_timer, 1, "nudge")   # set by a sim.at action
    sim.run(until=20)
    timers = [(e.node, e.data) for e in sim.trace.of_kind("timer") if e.time > 15]
    assert ("a", "poke") in timers and ("b", "nudge") in timers
    assert sorted(sim._records["a"].timers) == ["tick"]


def test_a_restart_keeps_the_record_with_the_new_node_and_no_old_timer():
    sim = Simulation(seed=1)
    sim.add_nodes(Rearm, ["a", "b"])
    sim.run(until=25)
    record, old = sim._records["a"], sim.nodes["a"]
    table = record.timers
    sim.crash("a")
    assert record.timers == {} and record.timers is not table  # a new table
    assert list(table) == ["tick"]                             # the old one left as it was
    new = sim.restart("a")
    assert sim._records["a"] is record and record.node is new is sim.nodes["a"]
    stale = sim.stale_timers
    sim.run(until=100)
    assert sim.stale_timers == stale + 1   # the old incarnation's entry came due, did nothing
    assert old.fired == 2 and new.fired == 7


def test_the_old_object_of_a_restarted_node_sets_the_timers_of_its_id():
    sim = Simulation(seed=1)
    sim.add_nodes(Rearm, ["a"])
    old = sim.nodes["a"]
    sim.crash("a")
    new = sim.restart("a")
    old.set_timer(3, "late")  # (a closure holding the old object): the id's timer, as ever
    sim.run(until=5)
    assert ("a", "late") in [(e.node, e.data) for e in sim.trace.of_kind("timer")]
    assert (old.fired, new.fired) == (0, 1)  # the current object handles it


def test_a_record_says_which_node_and_timers_it_holds():
    sim = Simulation(seed=1)
    sim.add_nodes(Rearm, ["a"])
    sim.run(until=5)
    assert repr(sim._records["a"]) == "<record of node 'a': timers ['tick']>"


@pytest.mark.parametrize("drift", [0.0, 0.5])
def test_timers_of_a_drifting_clock_still_run_slower_or_faster(drift):
    sim = Simulation(seed=1)
    sim.add_nodes(Rearm, ["a", "b"])
    sim.set_clock("a", drift=drift)
    sim.run(until=1_000)
    assert sim.nodes["a"].fired == int(100 * (1 + drift)) and sim.nodes["b"].fired == 100
