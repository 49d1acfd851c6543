"""The fork engine (stateful search) explores exactly what the replay engine explores.

Every test runs one configuration with ``method="fork"`` and ``method="replay"`` and
requires the same verdict, the same counts of states and transitions, the same depth and
the same (shortest) violating schedule -- over crashes, restarts, drops, ``sim.at`` actions,
clients with histories, invariants that remember, and node code that pickle cannot copy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import pytest

from distlab.check.examples import (AmnesiacElection, Election, ForgetfulElection, NaiveMutex,
                                    RicartAgrawala, mutual_exclusion)
from distlab.check.explore import ExplorationResult, explore
from distlab.check.fork import ForkEngine
from distlab.check.invariants import (Invariant, durable_storage, invariant,
                                      no_acknowledged_write_lost, watch)
from distlab.check.transitions import StepMemo
from distlab.consensus.paxos import HastyProposer, agreement, validity
from distlab.consensus.paxos.runs import paxos_setup
from distlab.consensus.raft.election import RaftElectionNode
from distlab.consensus.raft.invariants import at_most_one_leader_per_term
from distlab.sim import Client, ConfigurationError, Constant, Node, Simulation

#: the stateless search's results by configuration (`nodes`, invariants, options): it is
#: deterministic, and several tests compare the fork engine with it on the same one
REPLAYED: dict[tuple[Any, ...], ExplorationResult] = {}


def both(setup: Callable[[Simulation], Any], invariants: Callable[[], list[Invariant]],
         **options: Any) -> tuple[ExplorationResult, ExplorationResult]:
    """Explore with both methods and require identical results; return (fork, replay)."""
    fork = explore(setup, invariants(), time_budget=None, **options)
    configuration = getattr(setup, "configuration", None)
    key = (configuration, *(i.name for i in invariants()), repr(sorted(options.items())))
    replay = REPLAYED.get(key) if configuration else None
    if replay is None:
        replay = explore(setup, invariants(), time_budget=None, method="replay", **options)
        if configuration:
            REPLAYED[key] = replay
    assert fork.method == "fork" and replay.method == "replay"
    for name in ("status", "states", "transitions", "depth", "depth_limited", "stopped_by"):
        assert getattr(fork, name) == getattr(replay, name), name
    assert [step.text for step in fork.schedule] == [step.text for step in replay.schedule]
    if fork.found:
        assert fork.violation.invariant == replay.violation.invariant
        assert fork.violation.explanation == replay.violation.explanation
        assert fork.simulation.trace.dumps() == replay.simulation.trace.dumps()
    assert str(fork) == str(replay)
    return fork, replay


def nodes(cls: type[Node], ids: tuple[str, ...] = ("a", "b")) -> Callable[[Simulation], None]:
    def setup(sim: Simulation) -> None:
        sim.add_nodes(cls, ids)
    setup.configuration = (cls, ids)  # type: ignore[attr-defined]
    return setup


# -- the book's small protocols -----------------------------------------------------------------

def test_every_reachable_state_of_a_correct_mutex_is_the_same():
    fork, _ = both(nodes(RicartAgrawala), lambda: [mutual_exclusion])
    assert fork.status == "no violation" and not fork.depth_limited


def test_the_same_shortest_race_is_found():
    fork, _ = both(nodes(NaiveMutex, ("a", "b", "c")), lambda: [mutual_exclusion])
    assert fork.found and len(fork.schedule) == 10  # two ask, four grants each way


def test_an_invariant_that_remembers_gives_the_same_shortest_schedule():
    both(nodes(ForgetfulElection, ("a", "b", "c")), lambda: [at_most_one_leader_per_term()])


def test_depth_bounds_without_hashing_and_depth_first_search_agree():
    both(nodes(Election), lambda: [at_most_one_leader_per_term()], max_depth=6)
    both(nodes(RicartAgrawala), lambda: [mutual_exclusion], hashing=False, max_depth=7)
    both(nodes(NaiveMutex, ("a", "b", "c")), lambda: [mutual_exclusion], strategy="dfs")


def test_a_state_budget_stops_both_at_the_same_place():
    both(paxos_setup(proposer_class=HastyProposer), lambda: [agreement(), validity],
         max_states=1_500)


# -- crashes, restarts, drops, clients --------------------------------------------------------

def test_crashes_and_restarts_of_nodes_that_forget_agree():
    fork, _ = both(nodes(AmnesiacElection, ("a", "b", "c")),
                   lambda: [at_most_one_leader_per_term()], strategy="dfs", crashes=1,
                   restarts=True, crashable=["c"], max_depth=5)
    assert fork.depth_limited   # (its violation needs 8 steps: the bench finds it)


def test_raft_election_with_one_crash_agrees():
    both(nodes(RaftElectionNode, ("a", "b", "c")),
         lambda: [at_most_one_leader_per_term()],
         crashes=1, restarts=True, max_depth=5)


@dataclass(frozen=True)
class Put:
    value: int


@dataclass(frozen=True)
class PutOk:
    value: int


class Store(Node):
    """Appends every write to a log that is both an attribute and durable storage."""

    def __init__(self) -> None:
        self.log = self.storage.setdefault("log", [])   # the same list, twice
        self.acked = 0

    def on_message(self, src: str, msg: Put) -> None:
        self.log.append(msg.value)
        self.acked += 1
        self.send(src, PutOk(msg.value))


class Writer(Client):
    """Writes 1, then 2, to the store "s"."""

    def on_start(self) -> None:
        self.op = self.invoke("append", value=1)
        self.send("s", Put(1))

    def on_message(self, src: str, msg: PutOk) -> None:
        if self.op.status == "pending":
            self.ok(self.op)
            if msg.value == 1:
                self.op = self.invoke("append", value=2)
                self.send("s", Put(2))


def read_log(sim: Simulation, key: None) -> list[int]:
    return list(durable_storage(sim, "s")["log"])


def store_and_writer(sim: Simulation) -> None:
    sim.add_node(Store, "s")
    sim.add_node(Writer, "w")


def test_storage_shared_with_an_attribute_and_client_histories_survive_snapshots():
    fork, _ = both(store_and_writer, lambda: [no_acknowledged_write_lost(read_log)],
                   crashes=2, restarts=True, crashable=["s"])
    assert fork.status == "no violation" and fork.states > 10
    # the same invariant, declared to read only the nodes (the clients' history included):
    # checked once per combination of node states, with the same result
    def of_nodes() -> list[Invariant]:
        return [Invariant("no acknowledged write lost", no_acknowledged_write_lost(read_log).fn,
                          reads_only_nodes=True)]

    assert both(store_and_writer, of_nodes, crashes=2, restarts=True,
                crashable=["s"])[0].states == fork.states


class Aliased(Store):
    """Keeps a second name for its storage object and writes through it."""

    def __init__(self) -> None:
        super().__init__()
        self.durable = self.storage

    def on_message(self, src: str, msg: Put) -> None:
        self.durable["last"] = msg.value
        super().on_message(src, msg)


def test_a_second_name_for_the_storage_survives_snapshots():
    def setup(sim: Simulation) -> None:
        sim.add_node(Aliased, "s")
        sim.add_node(Writer, "w")

    @invariant("the second name is the storage")
    def one_storage(sim: Simulation) -> str | None:
        node = sim.nodes["s"]
        if sim.is_up("s") and node.durable is not node.storage:
            return "the storage and its second name came apart"
        return None

    fork, _ = both(setup, lambda: [one_storage, no_acknowledged_write_lost(read_log)],
                   crashes=1, restarts=True, crashable=["s"])
    assert fork.status == "no violation" and fork.states > 10


def test_drops_and_an_invariant_that_reads_the_trace_agree():
    @invariant("nothing is lost")
    def nothing_lost(sim: Simulation) -> str | None:
        drops = sim.trace.of_kind("drop")
        return f"message #{drops[0].msg_id} was lost" if drops else None

    fork, _ = both(store_and_writer, lambda: [nothing_lost], drops=1)
    assert [str(s) for s in fork.schedule] == ["drop #1 w->s Put(value=1)"]
    quiet, _ = both(store_and_writer, lambda: [nothing_lost])
    assert quiet.status == "no violation"


# -- sim.at actions and node code pickle cannot copy ---------------------------------------------

class Poked(Node):
    """Counts pokes (a sim.at action calls its bound method) and tells its peer."""

    def __init__(self) -> None:
        self.pokes = 0
        self.heard = 0

    def poke(self) -> None:
        self.pokes += 1
        self.broadcast("poked")

    def on_message(self, src: str, msg: str) -> None:
        self.heard += 1


@invariant("b hears at most one poke")
def one_poke(sim: Simulation) -> str | None:
    if sim.is_up("b") and sim.nodes["b"].heard > 1:
        return "b heard two pokes"
    return None


def test_sim_at_actions_calling_node_methods_and_faults_agree():
    def setup(sim: Simulation) -> None:
        a, _ = sim.add_nodes(Poked, ["a", "b"])
        sim.at(1, a.poke)
        sim.at(2, lambda: sim.nodes["a"].poke())
        sim.at(3, sim.crash, "b")
        sim.at(4, sim.restart, "b")

    fork, _ = both(setup, lambda: [one_poke])
    assert fork.found and any(step.kind == "run" for step in fork.schedule)


class Timed(Node):
    """Pings its peers; records when each message arrives (its clock) and answers twice."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []

    def on_start(self) -> None:
        self.broadcast("ping")

    def on_message(self, src: str, msg: str) -> None:
        self.arrivals.append(self.now)
        if len(self.arrivals) < 3:
            self.send(src, "pong")


@invariant("no node hears a message after t=7", reads_only_nodes=True)
def heard_early(sim: Simulation) -> str | None:
    late = [node_id for node_id, node in sim.nodes.items() if any(t > 7 for t in node.arrivals)]
    return f"{late} heard a message after t=7" if late else None


def test_a_sim_at_action_that_slows_the_network_is_seen_by_steps_taken_again():
    def setup(sim: Simulation) -> None:
        def slow_down() -> None:
            sim.network.latency = Constant(5)

        sim.network.latency = Constant(1)
        sim.add_nodes(Timed, ["a", "b", "c"])
        sim.at(0, slow_down)

    # (timing is not part of a state: without hashing, the run that slows the network first
    # is not merged with the one that slows it later)
    fork, _ = both(setup, lambda: [heard_early], max_depth=4, hashing=False)
    assert fork.found


#: A module-level lambda: pickle cannot save it by name, but it is the same object everywhere.
DOUBLE = lambda value: 2 * value  # noqa: E731


class Local(Node):
    """Keeps a lambda and a table of its own bound methods: pickle cannot copy them, so its
    snapshots are deep copies that keep the node itself by identity."""

    def __init__(self) -> None:
        self.scale = DOUBLE
        self.handlers = {"ping": self.on_ping}
        self.heard: list[str] = []

    def on_start(self) -> None:
        self.broadcast("ping")

    def on_message(self, src: str, msg: str) -> None:
        self.handlers[msg](src)

    def on_ping(self, src: str) -> None:
        self.heard.append(src * self.scale(1))


def test_node_state_that_pickle_cannot_copy_is_deep_copied():
    fork, _ = both(nodes(Local, ("a", "b", "c")), lambda: [mutual_exclusion],
                   crashes=1, restarts=True, max_depth=6)
    assert fork.status == "no violation"
    # the handler tables of equal states are equal: states merge as for any other node
    unhashed = explore(nodes(Local, ("a", "b", "c")), [mutual_exclusion], crashes=1,
                       restarts=True, hashing=False, max_depth=6)
    assert fork.states < unhashed.states


# -- where snapshots cannot go, and wrong arguments -----------------------------------------------

def test_setup_that_watches_invariants_falls_back_to_replay():
    def setup(sim: Simulation) -> None:
        sim.add_nodes(NaiveMutex, ["a", "b"])
        watch(sim, mutual_exclusion)

    result = explore(setup, [])
    assert result.found and result.method == "replay" and "monitors" in result.fallback


def test_an_unknown_method_is_refused_with_the_choices():
    with pytest.raises(ConfigurationError, match="'fork'.*'replay'"):
        explore(nodes(NaiveMutex), [mutual_exclusion], method="stateful")


# -- steps taken again from a memo (the same node version handling the same event) -------------

class Clocked(Node):
    """Reads its clock and draws from its stream in its handlers, and keeps both: a step
    taken again from a memo must give what running the handler gives."""

    def on_start(self) -> None:
        self.seen: list[float] = []
        self.set_timer(1 + self.rng.random(), "tick")
        self.set_timer(50, "idle")  # never touched again: it stays pending as it was

    def on_timer(self, name: str) -> None:
        if len(self.seen) < 2:
            self.broadcast(("tick", len(self.seen)))
            self.set_timer(1 + self.rng.random(), "tick")

    def on_message(self, src: str, msg: Any) -> None:
        self.seen.append(round(self.now, 6))
        if self.rng.random() < 0.5:
            self.cancel_timer("tick")
        else:
            self.set_timer(2, "tick")


class Counting(Node):
    """Counts what it hears, without its clock: every delivery of a message it already
    heard from the same state is a step taken again."""

    def on_start(self) -> None:
        self.heard = 0
        self.broadcast("hello")
        self.set_timer(5, "again")

    def on_message(self, src: str, msg: Any) -> None:
        self.heard = min(self.heard + 1, 2)
        if msg == "hello":
            self.send(src, "back")

    def on_timer(self, name: str) -> None:
        self.cancel_timer("never")
        if self.heard < 2:
            self.broadcast("hello")


@invariant("always holds: the search visits every state")
def quiet(sim: Simulation) -> None:
    return None


def test_nodes_that_read_their_clock_and_stream_agree():
    both(nodes(Clocked, ("a", "b", "c")), lambda: [quiet], max_depth=4)
    both(nodes(Clocked, ("a", "b")), lambda: [quiet], strategy="dfs", drops=1, crashes=1,
         restarts=True, max_depth=5)


def test_steps_taken_again_with_drops_crashes_and_timers_agree():
    both(nodes(Counting, ("a", "b", "c")), lambda: [quiet], max_depth=4, drops=1)
    both(nodes(Counting, ("a", "b", "c")), lambda: [quiet], crashes=1, restarts=True,
         max_depth=4)


def test_the_choices_derived_from_the_parent_equal_those_from_the_pending_entries(monkeypatch):
    derived = ForkEngine.derived_choices
    calls = []

    def checked(self, snap, *derive):
        found = derived(self, snap, *derive)
        self.restore_events(snap)  # (a step taken again leaves the working simulation as it was)
        assert found == self.enabled(snap)
        calls.append(snap.path[-1][0])
        return found

    monkeypatch.setattr(ForkEngine, "derived_choices", checked)
    both(nodes(Counting, ("a", "b", "c")), lambda: [quiet], max_depth=4, drops=1, crashes=1)
    both(nodes(ForgetfulElection, ("a", "b", "c")), lambda: [at_most_one_leader_per_term()])
    both(nodes(RaftElectionNode, ("a", "b", "c")), lambda: [at_most_one_leader_per_term()],
         crashes=1, restarts=True, max_depth=4)
    both(nodes(Counting, ("a", "b", "c")), lambda: [quiet], crashes=2, restarts=True,
         drops=1, max_depth=4)
    # (only the states expanded list their steps): every kind of step, crashes and restarts
    # too, and steps taken for the first time as well as again
    kinds = Counter(calls)
    assert len(calls) > 1_000 and all(kinds[kind] > 20 for kind in
                                      ("deliver", "drop", "fire", "crash", "restart"))


def test_whether_a_state_has_steps_is_told_without_listing_them(monkeypatch):
    choices = ForkEngine.choices
    seen = {True: 0, False: 0}

    def checked(self, snap):
        found = choices(self, snap)
        if hasattr(snap, "heap"):  # (else the working simulation is in its state)
            self.restore_events(self.complete(snap))
        assert bool(found) == bool(self.enabled(snap))
        seen[bool(found)] += 1
        return found

    monkeypatch.setattr(ForkEngine, "choices", checked)
    both(nodes(Counting, ("a", "b", "c")), lambda: [quiet], max_depth=4, drops=1, crashes=1)
    both(nodes(Counting, ("a", "b")), lambda: [quiet], crashes=2, restarts=True, timers=False)
    both(nodes(Counting, ("a", "b")), lambda: [quiet], crashes=1, drops=1, timers=False)
    both(nodes(RicartAgrawala), lambda: [mutual_exclusion], deliver=False, drops=1)
    both(nodes(RaftElectionNode, ("a", "b", "c")), lambda: [at_most_one_leader_per_term()],
         crashes=1, restarts=True, max_depth=4)
    assert seen[True] > 1_000 and seen[False] > 5


class LateTimer(Node):
    """Sets a long timer, then sends: its entries' times run against the order they were
    made in, and a step taken again must number them in the order they were made."""

    def on_start(self) -> None:
        self.heard = 0
        self.broadcast("hello")

    def on_message(self, src: str, msg: Any) -> None:
        self.heard += 1
        self.set_timer(100, "late")
        if self.heard < 3:
            self.send(src, "back")

    def on_timer(self, name: str) -> None:
        self.broadcast("late")


@invariant("no node hears four messages")
def fewer_than_four(sim: Simulation) -> str | None:
    loud = [node_id for node_id, node in sim.nodes.items() if node.heard >= 4]
    return f"{loud} heard four messages" if loud else None


def test_a_step_taken_again_numbers_its_entries_in_the_order_they_were_made():
    fork, _ = both(nodes(LateTimer, ("a", "b", "c")), lambda: [fewer_than_four])
    assert fork.found


# -- a fork engine with a mistake fails the comparisons -------------------------------------------
# Each mistake changes one thing in how the fork engine takes a step again or skips a check;
# the comparison that covers that mechanism must fail (its configuration, kept small for the
# time the stateless search takes, must still be one where the mistake shows).

KEY, CHECK_STATE, NODE_STATE = StepMemo.key, ForkEngine.check_state, ForkEngine.node_state


def memo_ignoring_the_clock(self: StepMemo, memo_key: Hashable, now: float) -> Any:
    """`StepMemo.find` that takes a step again as it was taken at another reading of the
    clock (the first one remembered)."""
    steps = self.transitions.get(memo_key)
    return next(iter(steps.values())) if type(steps) is dict else steps


def memo_ignoring_the_event(self: StepMemo, parent: Any, kind: str, entry: Any) -> Any:
    """`StepMemo.key` without the event: any delivery (or timer) a node handles from one of
    its versions is taken again as the first one it handled from it."""
    found = KEY(self, parent, kind, entry)
    if found is None:
        return None
    actor, cell, (version, _event, network, drift) = found
    return actor, cell, (version, kind, network, drift)


def retaken_steps_unchecked(self: ForkEngine, versions: Any, parts: Any, memory: Any,
                            child: Any = None) -> Any:
    """`ForkEngine.check_state` that trusts the invariants after a step taken again."""
    return None if child is not None else CHECK_STATE(self, versions, parts, memory)


def held_whatever_they_remember(self: ForkEngine, versions: Any, parts: Any,
                                memory: Any) -> Any:
    """`ForkEngine.node_state` without what the invariants remember: invariants that held
    in some node states are not checked there again, though they remember something new."""
    return NODE_STATE(self, versions, parts, ())


@pytest.mark.parametrize("owner, name, mistake, comparison", [
    (StepMemo, "find", memo_ignoring_the_clock,
     test_a_sim_at_action_that_slows_the_network_is_seen_by_steps_taken_again),
    (StepMemo, "key", memo_ignoring_the_event,
     test_steps_taken_again_with_drops_crashes_and_timers_agree),
    (ForkEngine, "check_state", retaken_steps_unchecked,
     test_crashes_and_restarts_of_nodes_that_forget_agree),
    (ForkEngine, "node_state", held_whatever_they_remember,
     test_an_invariant_that_remembers_gives_the_same_shortest_schedule),
], ids=["clock", "event", "unchecked", "memory"])
def test_a_fork_engine_with_a_mistake_fails_the_comparison(
        monkeypatch: pytest.MonkeyPatch, owner: type, name: str, mistake: Callable[..., Any],
        comparison: Callable[[], None]) -> None:
    monkeypatch.setattr(owner, name, mistake)
    with pytest.raises(AssertionError):
        comparison()
