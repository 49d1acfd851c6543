"""Tests of distlab.check.explore: exhaustive schedules find what random seeds miss."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from distlab.check.examples import (Election, ForgetfulElection, NaiveMutex, RicartAgrawala,
                                    mutual_exclusion)
from distlab.check.explore import ChoiceScheduler, explore
from distlab.check.invariants import (InvariantViolation, durable_storage, invariant,
                                      no_acknowledged_write_lost, watch)
from distlab.consensus.raft.invariants import at_most_one_leader_per_term
from distlab.sim import Client, ConfigurationError, Node, Simulation


def two(cls: type[Node]):
    def setup(sim: Simulation) -> None:
        sim.add_nodes(cls, ["a", "b"])
    return setup


# -- finding a rare bug, and the shortest schedule ----------------------------------------------

def test_random_seeds_rarely_meet_the_race_that_exploration_finds():
    hits = 0
    for seed in range(200):
        sim = Simulation(seed=seed)
        sim.add_nodes(NaiveMutex, ["a", "b"])
        watch(sim, mutual_exclusion)
        try:
            sim.run(until=1_100)
        except InvariantViolation:
            hits += 1
    assert hits <= 4, f"{hits} of 200 random runs hit the race: it is not rare"

    result = explore(two(NaiveMutex), [mutual_exclusion])
    assert result.status == "violation" and result.found
    assert result.violation.invariant == "at most one node in the critical section"
    assert result.violation.explanation == "'a' and 'b' are in the critical section together"


def test_breadth_first_returns_a_shortest_violating_schedule():
    result = explore(two(NaiveMutex), [mutual_exclusion])
    assert len(result.schedule) == 6
    assert [step.kind for step in result.schedule].count("fire") == 2   # both ask...
    assert [step.kind for step in result.schedule].count("deliver") == 4  # ...and both grant
    # no schedule of 5 steps violates it: with the depth bound at 5 the search is clean
    shorter = explore(two(NaiveMutex), [mutual_exclusion], max_depth=5)
    assert shorter.status == "no violation" and shorter.depth_limited


def test_depth_first_also_finds_it_but_not_necessarily_shortest():
    result = explore(two(NaiveMutex), [mutual_exclusion], strategy="dfs")
    assert result.found and len(result.schedule) >= 6


def test_the_schedule_reads_as_steps_and_replays_into_a_drawable_trace():
    result = explore(two(NaiveMutex), [mutual_exclusion])
    text = [str(step) for step in result.schedule]
    assert text[0] == "fire a:want"
    assert text[1].startswith("deliver #1 a->b AskToEnter(")
    printed = str(result)
    assert ("found a violation of 'at most one node in the critical section' after 6 steps"
            in printed)
    assert "   6. deliver" in printed and "states explored" in printed

    sim = result.simulation
    assert all(node.in_cs for node in sim.nodes.values())
    delivered = [f"#{e.msg_id}" for e in sim.trace.of_kind("deliver")]
    assert delivered == [s.text.split()[1] for s in result.schedule if s.kind == "deliver"]
    again = result.replay()
    assert again.trace.dumps() == sim.trace.dumps()


def test_exploration_is_deterministic():
    assert str(explore(two(NaiveMutex), [mutual_exclusion])) == \
        str(explore(two(NaiveMutex), [mutual_exclusion]))


def test_two_leaders_in_one_term_are_found_in_a_forgetful_election():
    result = explore(two(ForgetfulElection), [at_most_one_leader_per_term()])
    assert result.found and len(result.schedule) == 6
    assert str(result.schedule[0]) == "fire a:election"
    assert any(str(s).startswith("deliver #1 a->b Candidacy(term=1)") for s in result.schedule)


# -- correct protocols ---------------------------------------------------------------------------

def test_a_correct_protocol_reports_no_violation_over_every_reachable_state():
    result = explore(two(RicartAgrawala), [mutual_exclusion])
    assert result.status == "no violation" and not result.depth_limited
    assert result.states > 20
    assert str(result).startswith("exploration (breadth-first): no violation in every "
                                  "reachable state; ")


def test_raft_style_election_keeps_one_leader_per_term_in_every_short_schedule():
    result = explore(two(Election), [at_most_one_leader_per_term()], max_depth=6)
    assert result.status == "no violation" and result.depth_limited
    assert "in every schedule of up to 6 steps" in str(result)


def test_state_hashing_explores_fewer_states_for_the_same_verdict():
    hashed = explore(two(RicartAgrawala), [mutual_exclusion])
    unhashed = explore(two(RicartAgrawala), [mutual_exclusion], hashing=False)
    assert hashed.status == unhashed.status == "no violation"
    assert hashed.states < unhashed.states
    assert "no state hashing" in str(unhashed)


# -- budgets -------------------------------------------------------------------------------------

def test_the_state_budget_stops_the_search_as_incomplete():
    result = explore(two(RicartAgrawala), [mutual_exclusion], max_states=5)
    assert result.status == "incomplete" and result.states == 5
    assert result.stopped_by == "max_states=5"
    assert "incomplete: stopped by max_states=5 after 5 states" in str(result)


def test_the_time_budget_stops_the_search_as_incomplete():
    result = explore(two(Election), [at_most_one_leader_per_term()], time_budget=1e-6)
    assert result.status == "incomplete" and result.stopped_by.startswith("time_budget")


def test_a_handler_that_never_returns_is_stopped_by_the_time_budget():
    class Stuck(Node):
        def on_start(self) -> None:
            self.set_timer(1, "spin")

        def on_timer(self, name: str) -> None:
            while True:
                pass

    result = explore(two(Stuck), [mutual_exclusion], time_budget=0.2)
    assert result.status == "incomplete" and "inside a handler" in result.stopped_by


# -- drops, crashes, restarts ---------------------------------------------------------------------

@dataclass(frozen=True)
class Put:
    value: int


@dataclass(frozen=True)
class PutOk:
    value: int


class SaveThenAck(Node):
    """Saves a write durably, then acknowledges it."""

    def __init__(self) -> None:
        self.value = self.storage.get("value")

    def on_message(self, src: str, msg: Put) -> None:
        self.value = msg.value
        self.save()
        self.send(src, PutOk(msg.value))

    def save(self) -> None:
        self.storage["value"] = self.value


class AckThenSave(SaveThenAck):
    """The bug: acknowledges first and saves later, on a timer."""

    def save(self) -> None:
        self.set_timer(50, "flush")

    def on_timer(self, name: str) -> None:
        self.storage["value"] = self.value


class OneWrite(Client):
    """Writes 1 to the register held by node "s"."""

    def on_start(self) -> None:
        self.op = self.invoke("write", value=1)
        self.send("s", Put(1))

    def on_message(self, src: str, msg: PutOk) -> None:
        if self.op.status == "pending":
            self.ok(self.op)


def read_register(sim: Simulation, key: None) -> int | None:
    if sim.is_up("s"):
        return sim.nodes["s"].value
    return durable_storage(sim, "s").get("value")


def store(cls: type[Node]):
    def setup(sim: Simulation) -> None:
        sim.add_node(cls, "s")
        sim.add_node(OneWrite, "w")
    return setup


def test_exploring_crashes_finds_a_write_acknowledged_before_it_was_saved():
    durable = no_acknowledged_write_lost(read_register)
    assert explore(store(AckThenSave), [durable]).status == "no violation"  # no crash, no loss
    result = explore(store(AckThenSave), [durable], crashes=1)
    assert [str(s) for s in result.schedule] == [
        "deliver #1 w->s Put(value=1)", "deliver #2 s->w PutOk(value=1)", "crash s"]
    assert result.violation.invariant == "no acknowledged write lost"


def test_a_store_that_saves_first_survives_every_crash_and_restart():
    durable = no_acknowledged_write_lost(read_register)
    calm = explore(store(SaveThenAck), [durable])
    stormy = explore(store(SaveThenAck), [durable], crashes=2, restarts=True)
    assert stormy.status == "no violation" and not stormy.depth_limited
    assert stormy.states > calm.states   # the crashes and restarts were explored


def test_clients_are_not_crashed_unless_named():
    result = explore(store(AckThenSave), [no_acknowledged_write_lost(read_register)],
                     crashes=1, crashable=["w"])
    assert result.status == "no violation"


def test_drops_are_explored_and_recorded_in_the_trace():
    @invariant("nothing is lost")
    def nothing_lost(sim: Simulation) -> str | None:
        drops = sim.trace.of_kind("drop")
        return f"message #{drops[0].msg_id} was lost" if drops else None

    assert explore(store(SaveThenAck), [nothing_lost]).status == "no violation"
    result = explore(store(SaveThenAck), [nothing_lost], drops=1)
    assert [str(s) for s in result.schedule] == ["drop #1 w->s Put(value=1)"]
    assert result.simulation.trace.of_kind("drop")[0].data == "loss"


# -- node code that raises, or is not deterministic ----------------------------------------------

class Fragile(Node):
    """Raises when the second of two messages arrives before the first."""

    def __init__(self) -> None:
        self.seen = 0

    def on_start(self) -> None:
        if self.id == "a":
            self.send("b", 1)
            self.send("b", 2)

    def on_message(self, src: str, msg: int) -> None:
        if msg != self.seen + 1:
            raise ValueError(f"expected {self.seen + 1}, got {msg}")
        self.seen = msg


def test_an_exception_in_node_code_is_reported_as_a_violation():
    result = explore(two(Fragile), [mutual_exclusion])
    assert result.violation.invariant == "node handlers run without raising"
    assert "expected 1, got 2" in result.violation.explanation
    assert [str(s) for s in result.schedule] == ["deliver #2 a->b 2"]


class Moody(Node):
    """Not deterministic: what it does depends on how many instances were made before."""

    made = 0

    def on_start(self) -> None:
        Moody.made += 1
        if Moody.made % 2:
            self.set_timer(1, "tick")
        else:
            self.set_timer(1, "tock")


def test_node_code_that_is_not_deterministic_is_detected():
    with pytest.raises(RuntimeError, match="must be deterministic"):
        explore(lambda sim: sim.add_node(Moody, "a"), [mutual_exclusion])


# -- the scheduler and the arguments --------------------------------------------------------------

def test_the_choice_scheduler_runs_exactly_the_chosen_event():
    sim = Simulation(seed=0, scheduler=ChoiceScheduler())
    sim.add_nodes(Fragile, ["a", "b"])
    assert sim.step() is None             # nothing chosen: nothing runs
    start_b = max(sim.scheduler.heap, key=lambda e: e[1])
    sim.scheduler.chosen = start_b
    sim.step()
    assert len(sim.scheduler) == 1        # only a's start is left
    assert sim.scheduler.pop() is None


def test_bad_arguments_get_clear_errors():
    with pytest.raises(ConfigurationError, match="'bfs'"):
        explore(two(NaiveMutex), [mutual_exclusion], strategy="random")
    with pytest.raises(ConfigurationError, match="is not an Invariant"):
        explore(two(NaiveMutex), [lambda sim: None])
    with pytest.raises(ConfigurationError, match="max_depth"):
        explore(two(NaiveMutex), [mutual_exclusion], max_depth=0)
    with pytest.raises(ConfigurationError, match="crashable names"):
        explore(two(NaiveMutex), [mutual_exclusion], crashes=1, crashable=["z"])
    with pytest.raises(ConfigurationError, match="time_budget"):
        explore(two(NaiveMutex), [mutual_exclusion], time_budget=0)
    with pytest.raises(ValueError, match="no violating schedule"):
        explore(two(RicartAgrawala), [mutual_exclusion]).replay()
