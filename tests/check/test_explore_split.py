"""Exploration split over worker processes (`distlab.check.split`) gives the serial result.

Each test explores one configuration serially and with ``workers=2`` and requires the same
result: the verdict, the shortest violating schedule (step for step, with the same replayed
trace), and the same counts of states, transitions and depth -- each state counted once
however many workers reached it, the work done twice reported apart. The search is split
early here (`STATES_PER_WORKER` is lowered) so that these small configurations are split.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest

from distlab.check.examples import (Candidacy, ForgetfulElection, NaiveMutex, RicartAgrawala, Vote,
                                    mutual_exclusion)
from distlab.check.explore import ExplorationResult, explore
from distlab.check.fork import ForkEngine
from distlab.check.invariants import Invariant, invariant
from distlab.check.keys import fingerprint
from distlab.consensus.raft.election import RaftElectionNode
from distlab.consensus.raft.invariants import at_most_one_leader_per_term
from distlab.sim import ConfigurationError, Node, Simulation


@pytest.fixture(autouse=True)
def split_early(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split as soon as a level holds 4 states per worker (small configurations too)."""
    # (the module, which the package's function `explore` hides as an attribute)
    module = importlib.import_module("distlab.check.explore")
    monkeypatch.setattr(module, "STATES_PER_WORKER", 4)


def nodes(cls: type[Node], ids: tuple[str, ...]) -> Callable[[Simulation], None]:
    def setup(sim: Simulation) -> None:
        sim.add_nodes(cls, ids)
    return setup


def serial_and_split(setup: Callable[[Simulation], Any], invariants: Callable[[], list[Invariant]],
                     **options: Any) -> tuple[ExplorationResult, ExplorationResult]:
    """Explore serially and over 2 workers; require the same result."""
    serial = explore(setup, invariants(), time_budget=None, **options)
    split = explore(setup, invariants(), time_budget=None, workers=2, **options)
    assert split.workers == 2, "the search was not split: lower STATES_PER_WORKER"
    for name in ("status", "states", "transitions", "depth", "depth_limited", "stopped_by"):
        assert getattr(split, name) == getattr(serial, name), name
    assert [step.text for step in split.schedule] == [step.text for step in serial.schedule]
    assert str(split).replace(f", on 2 workers, {split.duplicates:,} of them explored by "
                              f"more than one", "") == str(serial)
    if serial.found:
        assert split.violation.invariant == serial.violation.invariant
        assert split.violation.explanation == serial.violation.explanation
        assert split.simulation.trace.dumps() == serial.simulation.trace.dumps()
    return serial, split


def test_the_same_shortest_violation_of_a_forgetful_election_is_found():
    serial, split = serial_and_split(nodes(ForgetfulElection, ("a", "b", "c")),
                                     lambda: [at_most_one_leader_per_term()])
    assert serial.found and len(split.schedule) == 6
    assert "on 2 workers" in str(split) and "on 2 workers" not in str(serial)


def test_among_many_shortest_races_the_serial_search_s_first_is_returned():
    # mutual exclusion breaks in many schedules of 10 steps: the split search must return
    # the one that comes first in the serial order, not the one a worker found first
    serial, split = serial_and_split(nodes(NaiveMutex, ("a", "b", "c")),
                                     lambda: [mutual_exclusion])
    assert serial.found and len(split.schedule) == 10


def test_a_correct_protocol_counts_every_reachable_state_once():
    serial, split = serial_and_split(nodes(RicartAgrawala, ("a", "b", "c")),
                                     lambda: [mutual_exclusion])
    assert split.status == "no violation" and not split.depth_limited
    # states reached by both workers are counted once, and reported apart
    assert split.duplicates > 0


def test_a_depth_bound_and_crashes_give_the_serial_states():
    serial, split = serial_and_split(nodes(RaftElectionNode, ("a", "b", "c")),
                                     lambda: [at_most_one_leader_per_term()],
                                     crashes=1, restarts=True, max_depth=5)
    assert split.status == "no violation" and split.depth_limited


def test_the_replay_method_splits_too():
    serial, split = serial_and_split(nodes(ForgetfulElection, ("a", "b", "c")),
                                     lambda: [at_most_one_leader_per_term()], method="replay",
                                     max_depth=4)
    assert split.method == "replay" and split.status == "no violation"


def test_an_invariant_that_reads_the_trace_in_a_worker_restarts_the_split_search_with_it():
    @invariant("a is never leader twice")
    def elected_once(sim: Simulation) -> str | None:
        node = sim.nodes["a"]
        if sim.is_up("a") and node.role == "leader" and len(sim.trace) < 0:
            return "impossible"  # (it reads the trace, and never fails)
        return None

    serial, split = serial_and_split(nodes(ForgetfulElection, ("a", "b", "c")),
                                     lambda: [elected_once, at_most_one_leader_per_term()])
    assert split.found


def test_the_workers_replay_check_of_their_deepest_state_is_not_lost(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # at the end each worker replays its deepest state (ForkEngine.verify): a divergence it
    # finds must be raised here, as in a serial search
    def diverged(self: ForkEngine) -> None:
        raise RuntimeError("the run diverged")

    monkeypatch.setattr(ForkEngine, "verify", diverged)
    with pytest.raises(RuntimeError, match="the run diverged"):
        explore(nodes(RicartAgrawala, ("a", "b", "c")), [mutual_exclusion], workers=2)


def test_a_search_too_small_to_split_runs_in_this_process():
    small = explore(nodes(NaiveMutex, ("a", "b")), [mutual_exclusion], workers=2)
    assert small.workers == 1 and small.found
    assert str(small) == str(explore(nodes(NaiveMutex, ("a", "b")), [mutual_exclusion]))


def test_a_state_budget_stops_the_split_search_where_it_stops_the_serial_one():
    _, split = serial_and_split(nodes(RicartAgrawala, ("a", "b", "c")),
                                lambda: [mutual_exclusion], max_states=1_000)
    assert split.status == "incomplete" and split.states == 1_000


def test_bad_worker_counts_and_depth_first_splits_are_refused():
    setup = nodes(NaiveMutex, ("a", "b"))
    for workers in (0, -1, True, 1.5):
        with pytest.raises(ConfigurationError, match="workers is a number of processes"):
            explore(setup, [mutual_exclusion], workers=workers)
    with pytest.raises(ConfigurationError, match="strategy='bfs'"):
        explore(setup, [mutual_exclusion], workers=2, strategy="dfs")


def test_fingerprints_tell_apart_what_python_s_hash_confuses():
    assert hash(Vote(1)) == hash(Candidacy(1))  # (a dataclass hashes its fields only)
    assert fingerprint(Vote(1)) != fingerprint(Candidacy(1))
    assert fingerprint(("a", Vote(1))) == fingerprint(("a", Vote(1)))
    assert fingerprint(frozenset({("a", 1), ("b", 2)})) == fingerprint(
        frozenset([("b", 2), ("a", 1)]))
    assert fingerprint(frozenset({1, 2})) != fingerprint(frozenset({3}))
